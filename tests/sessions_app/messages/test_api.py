from datetime import UTC, datetime

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from accounts.services import api_key_create
from sessions_app.messages.api.serializers import MessageOutput
from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.services import message_send
from sessions_app.sessions.services import session_disconnect
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert body["success"] is False
    return body["error"]


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
    [
        ("081234567890", "missing_country_code"),
        ("12", "too_short"),
        ("hello", "not_a_number"),
        (-6281200000001, "not_a_number"),
    ],
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


@pytest.mark.parametrize(
    "text",
    [
        "  \n ",
        "\u200b\u200b",  # zero-width spaces
        "\u2060\ufeff\u200e",  # word joiner, BOM, left-to-right mark
        "\u3164",  # Hangul filler: a letter that draws nothing
        "\u2800 \u00a0",  # braille blank, no-break space
        "\U000e0100\u180b\u180c",  # variation selectors: supplement and Mongolian
    ],
)
def test_send_blank_or_invisible_text_is_text_required(api, user, text):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "text": text},
        format="json",
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "text_required"


@pytest.mark.parametrize("text", ["👍", "\u200bhi", "ا", "·"])
def test_text_with_anything_visible_is_sent(api, user, published, text):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "text": text},
        format="json",
    )
    assert response.status_code == 202, response.json()
    assert published[0]["kwargs"]["payload"]["text"] == text


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
    message, _ = message_send(
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


def test_idempotent_replay_answers_after_the_session_disconnected(api, user):
    session = ConnectedSessionFactory(owner=user)
    body = {"sessionId": session.id, "to": "+6281200000001", "text": "once"}
    first = api.post("/api/v1/messages", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    session_disconnect(owner=user, session=session)
    again = api.post("/api/v1/messages", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert again.status_code == 202
    assert again.json()["data"]["messageId"] == first.json()["data"]["messageId"]
    assert OutboundMessage.objects.count() == 1


@pytest.mark.parametrize("failed", [False, True])
def test_the_message_answer_is_what_drf_would_render_from_its_declared_fields(failed):
    """MessageOutput builds its answer by hand for speed; DRF's own rendering of the declared
    fields (what the schema documents) must say exactly the same."""
    message = OutboundMessageFactory(wa_message_id="3EB0AA")
    moment = datetime(2026, 12, 4, 10, 0, 0, 123456, tzinfo=UTC)
    message.sent_at = message.delivered_at = moment
    if failed:
        message.error_code, message.error_message, message.failed_at = "x", "why", moment
    output = MessageOutput(message)
    assert output.data == serializers.Serializer.to_representation(output, message)
    assert set(output.data) == set(MessageOutput().fields)
