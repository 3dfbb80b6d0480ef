"""The groups API: validation before the node is asked, the GroupCall each route sends, and each
node answer's HTTP status and code. The node itself: tests/node_agent/test_node_groups.py."""

from unittest import mock

import pytest

from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory
from tests.sessions_app.node_calls import node_answers, sent
from workers_app.errors import NodeTimeout

pytestmark = pytest.mark.django_db

GROUP = "120363041234567890@g.us"
INFO = {"id": GROUP, "subject": "Kopi", "participants": []}


def _sent(call):
    return sent(call, "group_call")


@pytest.mark.parametrize(
    ("method", "path", "body", "op", "params"),
    [
        ("get", "/groups?limit=5&offset=10&q=kop&refresh=true", None, "list",
         {"limit": 5, "offset": 10, "query": "kop", "refresh": True}),
        ("get", "/groups", None, "list",
         {"limit": 100, "offset": 0, "query": "", "refresh": False}),
        ("post", "/groups",
         {"subject": "Kopi", "participants": ["+62 812-0000-0002", "12345678901234@lid"]},
         "create", {"subject": "Kopi",
                    "participants": ["6281200000002@s.whatsapp.net", "12345678901234@lid"]}),
        ("get", f"/groups/{GROUP}", None, "info", {"group": GROUP}),
        ("patch", f"/groups/{GROUP}", {}, "info", {"group": GROUP}),
        ("get", "/groups/120363041234567890", None, "info", {"group": GROUP}),
        ("patch", f"/groups/{GROUP}", {"subject": "New", "announce": True}, "update",
         {"group": GROUP, "changes": {"subject": "New", "announce": True}}),
        ("put", f"/groups/{GROUP}/picture", {"image": "/9j/4AAQ"}, "update",
         {"group": GROUP, "changes": {"picture": "/9j/4AAQ"}}),
        ("delete", f"/groups/{GROUP}/picture", None, "update",
         {"group": GROUP, "changes": {"picture": None}}),
        ("post", f"/groups/{GROUP}/participants",
         {"action": "promote", "participants": ["6281200000002"]}, "participants",
         {"group": GROUP, "action": "promote", "participants": ["6281200000002@s.whatsapp.net"]}),
        ("get", f"/groups/{GROUP}/invite", None, "invite_link", {"group": GROUP}),
        ("post", f"/groups/{GROUP}/invite/revoke", None, "invite_link",
         {"group": GROUP, "reset": True}),
        ("post", f"/groups/{GROUP}/leave", None, "leave", {"group": GROUP}),
        ("post", "/groups/join", {"invite": "https://chat.whatsapp.com/AbCdEf1234567890"},
         "join", {"code": "AbCdEf1234567890"}),
        ("get", "/groups/invites/AbCdEf1234567890", None, "invite_info",
         {"code": "AbCdEf1234567890"}),
    ],
)  # fmt: skip
def test_each_route_sends_its_operation_and_passes_the_answer_on(
    api, session, method, path, body, op, params
):
    with node_answers({"result": INFO}) as call:
        response = getattr(api, method)(f"/api/v1/sessions/{session.id}{path}", body, format="json")
    assert response.status_code in (200, 201), response.json()
    assert response.json() == {"success": True, "data": INFO}
    assert _sent(call) == (op, params)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("group_not_found", 404),
        ("not_admin", 403),
        ("not_participant", 403),
        ("invite_invalid", 404),
        ("already_participant", 409),
        ("groups_unsupported", 409),
        ("session_not_connected", 409),
        ("whatsapp_error", 422),
        ("bad_request", 502),
    ],
)
def test_each_refusal_of_the_node_is_its_own_status_and_code(api, session, code, status):
    with node_answers({"error": code, "message": "info: group doesn't exist"}):
        response = api.get(f"/api/v1/sessions/{session.id}/groups/{GROUP}")
    assert response.status_code == status
    answer = response.json()
    assert answer["success"] is False
    assert answer["error"]["code"] == (code if status != 502 else "node_error")
    if code == "whatsapp_error":
        assert "group doesn't exist" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/groups?limit=0", None),
        ("get", "/groups?limit=501", None),
        ("get", "/groups?offset=-1", None),
        ("get", "/groups?q=" + "x" * 101, None),
        ("post", "/groups", {"participants": []}),
        ("post", "/groups", {"subject": "x" * 101}),
        ("post", "/groups", {"subject": "ok", "participants": ["12"]}),
        ("post", "/groups", {"subject": "ok", "participants": [GROUP]}),
        ("post", "/groups", {"subject": "ok", "participants": "6281200000002"}),
        ("patch", f"/groups/{GROUP}", {"announce": "yes"}),
        ("patch", f"/groups/{GROUP}", {"description": "d" * 2049}),
        ("put", f"/groups/{GROUP}/picture", {"image": "aGVsbG8="}),
        ("put", f"/groups/{GROUP}/picture", {"image": "not base64!"}),
        ("post", f"/groups/{GROUP}/participants", {"action": "kick", "participants": ["628120"]}),
        ("post", f"/groups/{GROUP}/participants", {"action": "add", "participants": []}),
        ("post", "/groups/join", {"invite": "https://example.com/AbCdEf1234567890"}),
        ("post", "/groups/join", {"invite": "https://chat.whatsapp.com/AbCdEf1234567890?x=1"}),
        ("post", "/groups/join", {}),
    ],
)
def test_bad_input_is_400_and_asks_nonode_answers(api, session, method, path, body):
    with node_answers({"result": INFO}) as call:
        response = getattr(api, method)(f"/api/v1/sessions/{session.id}{path}", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["success"] is False
    call.assert_not_called()


def test_an_unknown_invite_code_in_the_path_is_404_without_asking(api, session):
    with node_answers({"result": INFO}) as call:
        response = api.get(f"/api/v1/sessions/{session.id}/groups/invites/no!")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "invite_invalid")
    call.assert_not_called()


def test_a_malformed_group_id_is_404(api, session):
    response = api.get(f"/api/v1/sessions/{session.id}/groups/abc@g.us")
    assert response.status_code == 404


def test_another_tenants_session_and_another_sessions_key_are_404(api, other_user, user):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    theirs = ConnectedSessionFactory(owner=other_user)
    mine, other_mine = ConnectedSessionFactory(owner=user), ConnectedSessionFactory(owner=user)
    bound = APIClient()
    bound.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(owner=user, name='b', session=mine).secret}"
    )
    with node_answers({"result": INFO}) as call:
        assert api.get(f"/api/v1/sessions/{theirs.id}/groups").status_code == 404
        assert bound.get(f"/api/v1/sessions/{other_mine.id}/groups").status_code == 404
        assert bound.get(f"/api/v1/sessions/{mine.id}/groups").status_code == 200
    assert call.call_count == 1


def test_a_session_that_is_not_connected_is_409_before_the_node_is_asked(api, session):
    Session.objects.filter(id=session.id).update(status=Session.Status.DISCONNECTED)
    with node_answers({"result": INFO}) as call:
        response = api.get(f"/api/v1/sessions/{session.id}/groups")
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "session_not_connected",
    )
    call.assert_not_called()


def test_a_silent_node_is_504(api, session):
    with mock.patch("sessions_app.calls.node_call", side_effect=NodeTimeout()):
        response = api.get(f"/api/v1/sessions/{session.id}/groups")
    assert (response.status_code, response.json()["error"]["code"]) == (504, "node_timeout")


# --- A node's group events become webhook events ------------------------------------------------


def _group_event(session, *, event="participants", event_id="c1", worker_id=""):
    return {
        "sessionId": session.id,
        "workerId": worker_id,
        "event": event,
        "eventId": event_id,
        "group": GROUP,
        "by": "6281200000001@s.whatsapp.net",
        "data": {"action": "promote", "participants": ["6281200000002@s.whatsapp.net"]},
        "timestamp": "2026-12-07T10:00:00Z",
    }


def test_a_group_event_report_is_one_signed_webhook_event_once(
    node_api, user, settings, django_capture_on_commit_callbacks
):
    from node_agent.protocol import GROUP_EVENT_PATH
    from sessions_app.webhooks.endpoints import endpoint_create
    from sessions_app.webhooks.models import WebhookDelivery, WebhookEvent

    settings.ALLOW_PRIVATE_URLS = True
    endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["group.participants"])
    session = ConnectedSessionFactory(owner=user)
    report = _group_event(session, worker_id=session.worker_id)
    with django_capture_on_commit_callbacks(execute=True):
        first = node_api.post(GROUP_EVENT_PATH, report, format="json")
        batch = node_api.post(
            "/api/webhooks/reports",
            {"reports": [{"path": GROUP_EVENT_PATH, "body": report}]},
            format="json",
        )  # the same change again, in a batch: a repeat
    assert first.status_code == 200, first.json()
    assert batch.json()["data"]["results"] == [{"status": 200, "code": ""}]
    [event] = WebhookEvent.objects.all()
    assert event.type == "group.participants"
    assert event.payload["data"] == {
        "sessionId": session.id,
        "group": GROUP,
        "by": "6281200000001@s.whatsapp.net",
        "action": "promote",
        "participants": ["6281200000002@s.whatsapp.net"],
    }
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_a_group_event_of_a_session_the_node_does_not_serve_is_404(node_api, user):
    from node_agent.protocol import GROUP_EVENT_PATH
    from sessions_app.webhooks.models import WebhookEvent

    session = ConnectedSessionFactory(owner=user)
    response = node_api.post(
        GROUP_EVENT_PATH, _group_event(session, worker_id="node-elsewhere"), format="json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "session_not_found")
    bad = node_api.post(GROUP_EVENT_PATH, _group_event(session, event="exploded"), format="json")
    assert bad.status_code == 400
    assert not WebhookEvent.objects.exists()
