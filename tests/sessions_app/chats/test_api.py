"""The chats and presence API: validation before the node is asked (a refused request asks
nothing), the ChatCall each route sends, and the node's refusals as codes. The node itself:
tests/node_agent/test_node_chats.py; on real processes: tests/e2e/test_chats.py."""

import pytest

from tests.factories import ConnectedSessionFactory
from tests.sessions_app.node_calls import node_answers, sent

pytestmark = pytest.mark.django_db

ANA = "6281200000301@s.whatsapp.net"
GROUP = "120363041234567890@g.us"


def _sent(call):
    return sent(call, "chat_call")


@pytest.mark.parametrize(
    ("method", "path", "body", "op", "params"),
    [
        ("get", "/chats?limit=5&offset=2", None, "list", {"limit": 5, "offset": 2}),
        ("post", "/chats/+62 812-0000-0301/read", {}, "read", {"chat": ANA}),
        ("post", f"/chats/{GROUP}/read", {"messageIds": ["3EB0A"]}, "read",
         {"chat": GROUP, "messageIds": ["3EB0A"]}),
        ("patch", f"/chats/{ANA}", {"pinned": True, "mutedUntil": "2027-01-01T08:00:00+08:00"},
         "update", {"chat": ANA, "pinned": True, "mutedUntil": "2027-01-01T00:00:00Z"}),
        ("delete", f"/chats/{ANA}", None, "delete", {"chat": ANA}),
        ("post", f"/chats/{GROUP}/presence", {"state": "recording"}, "chat_presence",
         {"chat": GROUP, "state": "recording"}),
        ("post", "/presence", {"state": "unavailable"}, "presence", {"state": "unavailable"}),
        ("post", "/contacts/6281200000301/presence", None, "subscribe", {"jid": ANA}),
    ],
)  # fmt: skip
def test_each_route_sends_its_operation(api, session, method, path, body, op, params):
    with node_answers({"result": {"x": 1}}) as call:
        response = getattr(api, method)(f"/api/v1/sessions/{session.id}{path}", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"success": True, "data": {"x": 1}}
    assert _sent(call) == (op, params)


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("get", "/chats?limit=0", None, "validation_error"),
        ("get", "/chats?limit=101", None, "validation_error"),
        ("post", "/chats/not-a-number/read", {}, "invalid_recipient"),
        ("post", f"/chats/{ANA}/read", {"messageIds": "3EB0A"}, "validation_error"),
        ("post", f"/chats/{ANA}/read", {"messageIds": ["x"] * 501}, "validation_error"),
        ("patch", f"/chats/{ANA}", {}, "validation_error"),
        ("patch", f"/chats/{ANA}", {"pinned": "sometimes"}, "validation_error"),
        ("post", f"/chats/{ANA}/presence", {"state": "dancing"}, "validation_error"),
        ("post", "/presence", {"state": "typing"}, "validation_error"),
        ("post", f"/contacts/{GROUP}/presence", None, "invalid_recipient"),
    ],
)
def test_bad_input_is_400_and_asks_nothing(api, session, method, path, body, code):
    with node_answers({"result": {}}) as call:
        response = getattr(api, method)(f"/api/v1/sessions/{session.id}{path}", body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    call.assert_not_called()


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ({"error": "chats_unsupported", "message": "no"}, 409, "chats_unsupported"),
        ({"error": "session_not_connected", "message": "no"}, 409, "session_not_connected"),
        ({"error": "contact_not_found", "message": "no"}, 404, "contact_not_found"),
        ({"error": "whatsapp_error", "message": "no push name"}, 422, "whatsapp_error"),
    ],
)
def test_the_nodes_refusals_are_codes(api, session, answer, status, code):
    with node_answers(answer):
        response = api.post(
            f"/api/v1/sessions/{session.id}/presence", {"state": "available"}, format="json"
        )
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_another_users_session_is_404(api, other_user):
    theirs = ConnectedSessionFactory(owner=other_user)
    with node_answers({"result": {}}) as call:
        response = api.get(f"/api/v1/sessions/{theirs.id}/chats")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "session_not_found")
    call.assert_not_called()


def test_the_call_policy_is_kept_and_told_to_a_connected_node(api, session):
    at = f"/api/v1/sessions/{session.id}/calls"
    assert api.get(at).json()["data"] == {"reject": False, "message": ""}
    policy = {"reject": True, "message": "Chat us instead"}
    with node_answers({"result": policy}) as call:
        response = api.put(at, policy, format="json")
    assert response.json() == {"success": True, "data": policy}
    assert _sent(call) == ("calls", policy)
    assert api.get(at).json()["data"] == policy
    session.refresh_from_db()
    from sessions_app.sessions.services import session_start_task

    assert session_start_task(session).calls == policy  # every start gives it to the node
    with node_answers({"result": {}}) as call:
        bad = api.put(at, {"reject": "sometimes"}, format="json")
    assert bad.status_code == 400
    call.assert_not_called()
