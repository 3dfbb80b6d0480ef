"""Dashboard: the test message panel, its live status, and the recent messages list."""

import pytest
from django.utils import timezone

from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.statuses import message_status_apply
from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory, WorkerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_send_test_message_shows_its_status_until_read(
    logged_in, user, broker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user)
    broker.clear(f"node.{session.worker_id}")

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            f"/sessions/{session.id}/messages",
            {"send-to": "+62 812-0000-0001", "send-text": "test from the dashboard"},
            headers=HTMX,
        )

    page = response.content.decode()
    message = OutboundMessage.objects.get(owner=user)
    assert (message.to, message.chat_jid) == ("6281200000001", "6281200000001@s.whatsapp.net")
    assert message.payload["text"] == "test from the dashboard"
    assert message.api_key is None
    assert "message-sent" in response["HX-Trigger"]
    assert '<span class="mbadge mbadge-queued">queued</span>' in page
    status_url = f"/sessions/{session.id}/messages/{message.id}"
    assert f'hx-get="{status_url}" hx-trigger="every 1s"' in page
    tasks = broker.drain(f"node.{session.worker_id}")
    assert [t["task"] for t in tasks] == ["node_agent.tasks.message_send"]

    message_status_apply(
        session_id=session.id, message_id=message.id, status="delivered", timestamp=timezone.now()
    )
    delivered = logged_in.get(status_url, headers=HTMX).content.decode()
    assert "mbadge-delivered" in delivered
    assert 'hx-trigger="every 1s"' in delivered

    message_status_apply(
        session_id=session.id, message_id=message.id, status="read", timestamp=timezone.now()
    )
    read = logged_in.get(status_url, headers=HTMX).content.decode()
    assert "mbadge-read" in read
    assert "hx-trigger" not in read  # polling stops

    recent = logged_in.get(f"/sessions/{session.id}/messages", headers=HTMX).content.decode()
    assert "+6281200000001" in recent
    assert "mbadge-read" in recent


def test_failed_message_shows_its_error_code(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    logged_in.post(
        f"/sessions/{session.id}/messages", {"send-to": "+15550002299", "send-text": "x"}
    )
    message = OutboundMessage.objects.get(owner=user)
    message_status_apply(
        session_id=session.id,
        message_id=message.id,
        status="failed",
        timestamp=timezone.now(),
        error_code="not_on_whatsapp",
    )

    page = logged_in.get(f"/sessions/{session.id}/messages/{message.id}").content.decode()

    assert "mbadge-failed" in page
    assert "not_on_whatsapp" in page
    assert "hx-trigger" not in page


def test_send_test_message_shows_why_the_recipient_is_bad(logged_in, user):
    session = ConnectedSessionFactory(owner=user)

    response = logged_in.post(
        f"/sessions/{session.id}/messages",
        {"send-to": "hello there", "send-text": "x"},
        headers=HTMX,
    )

    assert "Recipient is neither a phone number nor a JID." in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_send_test_message_to_a_disconnected_session_shows_the_error(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    Session.objects.filter(id=session.id).update(status="DISCONNECTED")

    response = logged_in.post(
        f"/sessions/{session.id}/messages",
        {"send-to": "+15550002222", "send-text": "x"},
        headers=HTMX,
    )

    assert "Session is not connected." in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_another_users_message_is_not_shown(logged_in, user, other_user):
    session = ConnectedSessionFactory(owner=user)
    theirs = ConnectedSessionFactory(owner=other_user, worker=WorkerFactory())
    message = OutboundMessage.objects.create(
        owner=other_user, session=theirs, to="1555", chat_jid="1555@s.whatsapp.net"
    )

    response = logged_in.get(f"/sessions/{session.id}/messages/{message.id}")

    assert response.status_code == 404


def test_recent_messages_lists_the_last_twenty(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    for n in range(25):
        OutboundMessage.objects.create(
            owner=user,
            session=session,
            to=f"155500{n:05d}",
            chat_jid=f"155500{n:05d}@s.whatsapp.net",
        )

    page = logged_in.get(f"/sessions/{session.id}").content.decode()

    section = page.split('id="recent-messages"', 1)[1]
    assert section.count("mbadge-queued") == 20
    assert "every 2s" in section  # still moving, so it polls


def test_a_blank_test_message_is_refused_like_an_empty_one(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    response = logged_in.post(
        f"/sessions/{session.id}/messages",
        {"send-to": "+6281200000001", "send-text": "\u200b\u3164"},
        HTTP_HX_REQUEST="true",
    )
    assert "The text is blank." in response.content.decode()
    assert not OutboundMessage.objects.exists()
