from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from sessions_app import services
from sessions_app.models import OutboundMessage, Session
from tests.factories import ConnectedSessionFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert body["success"] is False
    return body["error"]


def test_requests_without_a_key_are_401():
    response = APIClient().get("/api/v1/sessions")
    assert response.status_code in (401, 403)
    assert _error(response)["code"] in ("unauthorized", "forbidden")


def test_a_revoked_or_wrong_key_is_401(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer wag_not-a-real-key")
    response = client.get("/api/v1/sessions")
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthorized"


def test_x_api_key_header_works(user, api_key):
    SessionFactory(owner=user, name="mine")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key.secret)
    response = client.get("/api/v1/sessions")
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["data"]] == ["mine"]


def test_create_session_then_list_only_own(api, user, other_user):
    SessionFactory(owner=other_user, name="not mine")
    response = api.post("/api/v1/sessions", {"name": "Sales", "engine": "sandbox"}, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["status"] == "DISCONNECTED"
    assert data["engine"] == "sandbox"
    assert data["sessionId"].startswith("ses_")
    listed = api.get("/api/v1/sessions").json()["data"]
    assert [s["name"] for s in listed] == ["Sales"]


def test_create_session_with_bad_body_is_400_with_field_errors(api):
    response = api.post("/api/v1/sessions", {"engine": "telegram"}, format="json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"name", "engine"}


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/sessions", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_json"


def test_another_users_session_is_404(api, other_user):
    theirs = SessionFactory(owner=other_user)
    for method, path in [
        ("get", f"/api/v1/sessions/{theirs.id}"),
        ("get", f"/api/v1/sessions/{theirs.id}/qr"),
        ("get", f"/api/v1/sessions/{theirs.id}/status"),
        ("post", f"/api/v1/sessions/{theirs.id}/connect"),
        ("delete", f"/api/v1/sessions/{theirs.id}"),
    ]:
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 404, path
        assert _error(response)["code"] == "session_not_found"
    assert Session.objects.filter(id=theirs.id).exists()


def test_connect_without_nodes_is_503_and_session_unchanged(api, user):
    session = SessionFactory(owner=user)
    response = api.post(f"/api/v1/sessions/{session.id}/connect", {"method": "qr"}, format="json")
    assert response.status_code == 503
    assert _error(response)["code"] == "no_worker_available"
    session.refresh_from_db()
    assert session.status == "DISCONNECTED"


def test_connect_then_qr_endpoint(api, user, worker):
    session = SessionFactory(owner=user)
    response = api.post(f"/api/v1/sessions/{session.id}/connect", {}, format="json")
    assert response.status_code == 202
    assert response.json()["data"]["status"] == "INITIALIZING"
    qr = api.get(f"/api/v1/sessions/{session.id}/qr").json()["data"]
    assert qr["qrCode"] is None
    now = timezone.now()
    services.session_status_apply(
        session_id=session.id,
        status="QR_REQUIRED",
        timestamp=now,
        qr_string="2@ref,a,b,c",
        qr_expires_at=now + timedelta(seconds=60),
    )
    qr = api.get(f"/api/v1/sessions/{session.id}/qr").json()["data"]
    assert qr["status"] == "QR_REQUIRED"
    assert qr["qrCode"].startswith("data:image/png;base64,")
    assert qr["qrString"] == "2@ref,a,b,c"
    assert qr["expiresAt"]


def test_expired_qr_is_null(api, user, worker):
    session = SessionFactory(owner=user, worker=worker)
    past = timezone.now() - timedelta(seconds=120)
    services.session_status_apply(
        session_id=session.id,
        status="QR_REQUIRED",
        timestamp=past,
        qr_string="2@ref,a,b,c",
        qr_expires_at=past + timedelta(seconds=60),
    )
    qr = api.get(f"/api/v1/sessions/{session.id}/qr").json()["data"]
    assert qr["qrCode"] is None
    response = api.post(f"/api/v1/sessions/{session.id}/sandbox/scan", {}, format="json")
    assert response.status_code == 409
    assert _error(response)["code"] == "qr_expired"


def test_send_to_disconnected_session_is_409(api, user, worker):
    session = SessionFactory(owner=user, worker=worker)
    response = api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "text": "hi"},
        format="json",
    )
    assert response.status_code == 409
    assert _error(response)["code"] == "session_not_connected"
    assert not OutboundMessage.objects.exists()


def test_send_with_malformed_body_is_400_with_field_error(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.post("/api/v1/messages", {"sessionId": session.id}, format="json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "validation_error"
    assert set(error["fields"]) >= {"to", "text"}


@pytest.mark.parametrize(
    ("to", "reason"),
    [("081234567890", "missing_country_code"), ("12", "too_short"), ("hello", "not_a_number")],
)
def test_send_to_bad_recipient_is_400_invalid_recipient(api, user, to, reason):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages", {"sessionId": session.id, "to": to, "text": "hi"}, format="json"
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_recipient"
    assert reason in error["message"]


def test_send_whitespace_text_is_text_required(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "text": "  \n "},
        format="json",
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "text_required"


def test_send_is_202_and_message_is_readable(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/send",
        {"sessionId": session.id, "to": "+62 812-0000-0001", "text": "Halo 👋"},
        format="json",
    )
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["status"] == "queued"
    assert data["to"] == "6281200000001"
    assert data["chatId"] == "6281200000001@s.whatsapp.net"
    detail = api.get(f"/api/v1/messages/{data['messageId']}").json()["data"]
    assert detail["messageId"] == data["messageId"]
    assert OutboundMessage.objects.get(id=data["messageId"]).payload["text"] == "Halo 👋"


def test_another_users_message_is_404(api, other_user):
    theirs = ConnectedSessionFactory(owner=other_user)
    message, _ = services.message_send(
        owner=other_user,
        session=theirs,
        api_key=None,
        to="6281200000001",
        chat_jid="6281200000001@s.whatsapp.net",
        payload={"type": "text", "text": "x"},
    )
    response = api.get(f"/api/v1/messages/{message.id}")
    assert response.status_code == 404
    assert _error(response)["code"] == "message_not_found"


def test_session_bound_key_sees_and_sends_only_its_session(user):
    bound_session = ConnectedSessionFactory(owner=user)
    other_session = ConnectedSessionFactory(owner=user)
    issued = api_key_create(owner=user, name="bound", session=bound_session)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert [s["sessionId"] for s in client.get("/api/v1/sessions").json()["data"]] == [
        bound_session.id
    ]
    assert client.get(f"/api/v1/sessions/{other_session.id}").status_code == 404
    response = client.post(
        "/api/v1/messages", {"to": "+6281200000001", "text": "hi"}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["data"]["sessionId"] == bound_session.id


def test_unknown_api_path_is_404_envelope(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_openapi_schema_is_served(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert b"/api/v1/messages" in response.content


def test_unknown_dashboard_path_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert response["Content-Type"].startswith("text/html")


def test_deeply_nested_json_is_400_not_500(api):
    response = api.post("/api/v1/messages", "[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert _error(response) == {
        "code": "invalid_json",
        "message": "Request body is not valid JSON.",
        "fields": {},
    }


@pytest.mark.parametrize("key", ["k" * 101, "", "   "])
def test_overlong_or_empty_idempotency_key_is_400(api, user, key):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "text": "hi"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_idempotency_key"
    assert not OutboundMessage.objects.exists()


def test_odd_bytes_in_an_id_are_404(api):
    for path in ["/api/v1/sessions/abc%00def", "/api/v1/messages/abc%00def"]:
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["success"] is False


def test_long_group_jid_is_accepted(api, user):
    session = ConnectedSessionFactory(owner=user)
    jid = "11111111111111111111-22222222222222222222@g.us"
    response = api.post(
        "/api/v1/messages", {"sessionId": session.id, "to": jid, "text": "hi"}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["data"]["chatId"] == jid


def test_non_string_text_and_name_are_400(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "text": 5},
        format="json",
    )
    assert response.status_code == 400
    assert "text" in _error(response)["fields"]
    response = api.post("/api/v1/sessions", {"name": 5, "engine": "sandbox"}, format="json")
    assert response.status_code == 400
    assert "name" in _error(response)["fields"]


def test_options_is_405_envelope(api):
    response = api.options("/api/v1/sessions")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_session_bound_key_cannot_create_sessions(user):
    bound = ConnectedSessionFactory(owner=user)
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(owner=user, name='b', session=bound).secret}"
    )
    response = client.post("/api/v1/sessions", {"name": "x", "engine": "sandbox"}, format="json")
    assert response.status_code == 403
    assert _error(response)["code"] == "api_key_session_scoped"
    assert Session.objects.filter(owner=user).count() == 1


def test_idempotent_replay_answers_after_the_session_disconnected(api, user):
    session = ConnectedSessionFactory(owner=user)
    body = {"sessionId": session.id, "to": "+6281200000001", "text": "once"}
    first = api.post("/api/v1/messages", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    services.session_disconnect(owner=user, session=session)
    again = api.post("/api/v1/messages", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert again.status_code == 202
    assert again.json()["data"]["messageId"] == first.json()["data"]["messageId"]
    assert OutboundMessage.objects.count() == 1


def test_sandbox_phone_actions_need_a_connected_session(api, user, worker):
    session = SessionFactory(owner=user, worker=worker, status=Session.Status.LOGGED_OUT)
    for action in ["logout", "disconnect", "incoming"]:
        body = {"from": "+15550002222", "text": "hi"} if action == "incoming" else {}
        response = api.post(f"/api/v1/sessions/{session.id}/sandbox/{action}", body, format="json")
        assert response.status_code == 409, action
        assert _error(response)["code"] == "session_not_connected"
