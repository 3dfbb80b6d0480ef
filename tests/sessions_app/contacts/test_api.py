"""The contacts and profile API: validation before the node is asked, the ContactCall each
route sends, pictures through the gateway, and the node's refusals as codes. The node itself:
tests/node_agent/test_node_contacts.py."""

import base64

import pytest

from tests.factories import ConnectedSessionFactory
from tests.sessions_app.node_calls import node_answers, sent

pytestmark = pytest.mark.django_db

BOB = "6281200000002@s.whatsapp.net"
PROFILE = {"jid": BOB, "phone": "6281200000002", "lid": None, "pushName": "Bob",
           "about": "hi", "business": False, "verifiedName": None, "hasPicture": True}  # fmt: skip
JPEG = b"\xff\xd8\xff a picture"


def _sent(call):
    return sent(call, "contact_call")


@pytest.mark.parametrize(
    ("method", "path", "body", "op", "params"),
    [
        ("get", "/contacts?limit=5&offset=2&q=bo", None, "list",
         {"limit": 5, "offset": 2, "query": "bo"}),
        ("post", "/contacts/+62 812-0000-0002/block", None, "block", {"jid": BOB}),
        ("post", f"/contacts/{BOB}/unblock", None, "unblock", {"jid": BOB}),
        ("post", "/contacts/12345678901234@lid/block", None, "block",
         {"jid": "12345678901234@lid"}),
        ("get", "/blocklist", None, "blocklist", {}),
        ("get", "/lids/6281200000002", None, "lid", {"jid": BOB}),
    ],
)  # fmt: skip
def test_each_route_sends_its_operation(api, session, method, path, body, op, params):
    with node_answers({"result": {"x": 1}}) as call:
        response = getattr(api, method)(f"/api/v1/sessions/{session.id}{path}", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"success": True, "data": {"x": 1}}
    assert _sent(call) == (op, params)


def test_a_profile_links_its_picture_through_the_gateway(api, session):
    with node_answers({"result": PROFILE}) as call:
        response = api.get(f"/api/v1/sessions/{session.id}/contacts/+6281200000002")
    data = response.json()["data"]
    assert _sent(call) == ("profile", {"jid": BOB})
    assert data["pictureUrl"] == (
        f"http://testserver/api/v1/sessions/{session.id}/contacts/{BOB}/picture"
    )
    assert "://pps." not in str(data)  # never WhatsApp's picture CDN
    with node_answers({"result": {**PROFILE, "hasPicture": False}}):
        hidden = api.get(f"/api/v1/sessions/{session.id}/contacts/{BOB}")
    assert hidden.json()["data"]["pictureUrl"] is None


def test_a_picture_is_served_as_a_jpeg_and_a_hidden_one_is_404(api, session):
    answer = {"result": {"mimetype": "image/jpeg", "base64": base64.b64encode(JPEG).decode()}}
    with node_answers(answer) as call:
        response = api.get(f"/api/v1/sessions/{session.id}/contacts/{BOB}/picture")
    assert (response.status_code, response["Content-Type"], response.content) == (
        200,
        "image/jpeg",
        JPEG,
    )
    assert _sent(call) == ("picture", {"jid": BOB})
    with node_answers({"result": None}):
        hidden = api.get(f"/api/v1/sessions/{session.id}/contacts/{BOB}/picture")
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "picture_not_found")


def test_the_accounts_own_profile_and_its_changes(api, session):
    me = {**PROFILE, "jid": "6281200000001@s.whatsapp.net"}
    with node_answers({"result": me}) as call:
        got = api.get(f"/api/v1/sessions/{session.id}/profile")
        assert _sent(call) == ("me", {})
        patched = api.patch(
            f"/api/v1/sessions/{session.id}/profile", {"pushName": "Toko"}, format="json"
        )
        assert _sent(call) == ("me_update", {"changes": {"pushName": "Toko"}})
        put = api.put(
            f"/api/v1/sessions/{session.id}/profile/picture", {"image": "/9j/4AAQ"}, format="json"
        )
        assert _sent(call) == ("me_update", {"changes": {"picture": "/9j/4AAQ"}})
        removed = api.delete(f"/api/v1/sessions/{session.id}/profile/picture")
        assert _sent(call) == ("me_update", {"changes": {"picture": None}})
    for response in (got, patched, put, removed):
        assert response.status_code == 200, response.json()
    assert got.json()["data"]["pictureUrl"].endswith(f"/sessions/{session.id}/profile/picture")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/contacts?limit=0", None),
        ("get", "/contacts?q=" + "x" * 101, None),
        ("get", "/contacts/12", None),
        ("get", "/contacts/120363041234567890@g.us", None),
        ("post", "/contacts/not-a-number/block", None),
        ("get", "/lids/abc", None),
        ("patch", "/profile", {"pushName": "x" * 26}),
        ("patch", "/profile", {"about": "x" * 140}),
        ("put", "/profile/picture", {"image": "aGVsbG8="}),
    ],
)
def test_bad_input_is_400_and_asks_nonode_answers(api, session, method, path, body):
    with node_answers({"result": {}}) as call:
        response = getattr(api, method)(f"/api/v1/sessions/{session.id}{path}", body, format="json")
    assert response.status_code == 400, response.json()
    call.assert_not_called()


@pytest.mark.parametrize(
    ("code", "status"),
    [("contact_not_found", 404), ("contacts_unsupported", 409), ("whatsapp_error", 422)],
)
def test_the_nodes_refusals_are_their_codes(api, session, code, status):
    with node_answers({"error": code, "message": "not found"}):
        response = api.get(f"/api/v1/sessions/{session.id}/contacts/{BOB}")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_another_tenants_session_is_404_and_asks_nonode_answers(api, other_user):
    theirs = ConnectedSessionFactory(owner=other_user)
    with node_answers({"result": {}}) as call:
        assert api.get(f"/api/v1/sessions/{theirs.id}/contacts").status_code == 404
        assert api.get(f"/api/v1/sessions/{theirs.id}/profile").status_code == 404
    call.assert_not_called()


@pytest.mark.parametrize("name", ["Toko\nAna", "Ana\u202egnp.exe", "tab\there"])
def test_a_push_name_is_one_line_without_controls(api, session, name):
    with node_answers({"result": PROFILE}) as call:
        response = api.patch(
            f"/api/v1/sessions/{session.id}/profile", {"pushName": name}, format="json"
        )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "validation_error")
    call.assert_not_called()
