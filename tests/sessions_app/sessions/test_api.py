from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_status_apply
from tests.factories import ConnectedSessionFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert body["success"] is False
    return body["error"]


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


def test_an_overlong_session_name_is_a_field_error_and_creates_nothing(api, user):
    response = api.post("/api/v1/sessions", {"name": "n" * 101}, format="json")
    assert response.status_code == 400
    error = _error(response)
    assert (error["code"], list(error["fields"])) == ("validation_error", ["name"])
    assert "100 characters" in error["fields"]["name"][0]
    assert not Session.objects.filter(owner=user).exists()
    exact = api.post("/api/v1/sessions", {"name": "n" * 100}, format="json")
    assert exact.status_code == 201
    assert exact.json()["data"]["name"] == "n" * 100  # kept whole, not cut


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
    session_status_apply(
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
    session_status_apply(
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


@pytest.mark.parametrize("name", ["", "   ", "\u200b", "\u3164"])
def test_a_blank_or_invisible_session_name_is_refused(api, name):
    response = api.post("/api/v1/sessions", {"name": name, "engine": "sandbox"}, format="json")
    assert (response.status_code, _error(response)["code"]) == (400, "validation_error")
    assert "name" in _error(response)["fields"]
    assert not Session.objects.exists()


def test_session_bound_key_cannot_create_or_delete_sessions(user):
    bound = ConnectedSessionFactory(owner=user)
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(owner=user, name='b', session=bound).secret}"
    )
    response = client.post("/api/v1/sessions", {"name": "x", "engine": "sandbox"}, format="json")
    assert response.status_code == 403
    assert _error(response)["code"] == "api_key_session_scoped"
    response = client.delete(f"/api/v1/sessions/{bound.id}")
    assert (response.status_code, _error(response)["code"]) == (403, "api_key_session_scoped")
    assert Session.objects.filter(owner=user).count() == 1


def test_sandbox_phone_actions_need_a_connected_session(api, user, worker):
    session = SessionFactory(owner=user, worker=worker, status=Session.Status.LOGGED_OUT)
    for action in ["logout", "disconnect", "incoming"]:
        body = {"from": "+15550002222", "text": "hi"} if action == "incoming" else {}
        response = api.post(f"/api/v1/sessions/{session.id}/sandbox/{action}", body, format="json")
        assert response.status_code == 409, action
        assert _error(response)["code"] == "session_not_connected"
