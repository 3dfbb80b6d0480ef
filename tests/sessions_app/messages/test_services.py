import pytest
from django.utils import timezone

from billing.models import UsageRecord
from sessions_app.errors import IdempotencyKeyMismatch, MessageNotFound, SessionNotConnected
from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.services import message_send
from sessions_app.messages.statuses import message_status_apply
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _payload():
    return {"type": "text", "text": "hello"}


def test_send_rejects_disconnected_session(user, worker):
    session = SessionFactory(owner=user, worker=worker)
    with pytest.raises(SessionNotConnected):
        message_send(
            owner=user,
            session=session,
            api_key=None,
            to="6281200000001",
            chat_jid="6281200000001@s.whatsapp.net",
            payload=_payload(),
        )
    assert not OutboundMessage.objects.exists()


def test_send_records_then_publishes_to_the_sessions_node(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user, worker=worker)
    with django_capture_on_commit_callbacks(execute=True):
        message, created = message_send(
            owner=user,
            session=session,
            api_key=None,
            to="6281200000001",
            chat_jid="6281200000001@s.whatsapp.net",
            payload=_payload(),
        )
    assert created
    assert message.status == OutboundMessage.Status.QUEUED
    (task,) = broker.drain(worker.endpoint)
    assert task["task"] == "node_agent.tasks.message_send"
    assert task["kwargs"] == {
        "messageId": message.id,
        "sessionId": session.id,
        "payload": {
            "to": "6281200000001",
            "chatId": "6281200000001@s.whatsapp.net",
            "type": "text",
            "text": "hello",
        },
        "ratePerS": 1.0,  # the BASIC plan's pace for the session's lane on the node
        "burst": 5,
        "pacing": None,  # the session's human-like pacing: off
    }


def test_send_with_same_idempotency_key_returns_first_message(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user, worker=worker)
    kwargs = dict(
        owner=user,
        session=session,
        api_key=None,
        to="6281200000001",
        chat_jid="6281200000001@s.whatsapp.net",
        payload=_payload(),
        idempotency_key="abc",
    )
    with django_capture_on_commit_callbacks(execute=True):
        first, created_first = message_send(**kwargs)
        second, created_second = message_send(**kwargs)
    assert (created_first, created_second) == (True, False)
    assert first.id == second.id
    assert len(broker.drain(worker.endpoint)) == 1
    with pytest.raises(IdempotencyKeyMismatch):
        message_send(**{**kwargs, "payload": {"type": "text", "text": "other"}})


def test_message_status_never_goes_backwards_and_counts_usage_once(user):
    message = OutboundMessageFactory(session=ConnectedSessionFactory(owner=user))
    now = timezone.now()
    for status in ["sent", "read", "delivered", "sent", "read"]:
        message_status_apply(
            session_id=message.session_id,
            message_id=message.id,
            status=status,
            timestamp=now,
            wa_message_id="3EB0ABC",
        )
    message.refresh_from_db()
    assert message.status == "read"
    assert message.sent_at
    assert message.delivered_at
    assert message.read_at
    usage = UsageRecord.objects.get(user=user, kind=UsageRecord.Kind.MESSAGE_OUT)
    assert usage.count == 1


def test_failed_status_records_error_and_is_not_counted(user):
    message = OutboundMessageFactory(session=ConnectedSessionFactory(owner=user))
    message_status_apply(
        session_id=message.session_id,
        message_id=message.id,
        status="failed",
        timestamp=timezone.now(),
        error_code="recipient_not_on_whatsapp",
    )
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "recipient_not_on_whatsapp")
    assert not UsageRecord.objects.exists()


def test_message_status_for_unknown_message_is_not_found(user):
    session = ConnectedSessionFactory(owner=user)
    with pytest.raises(MessageNotFound):
        message_status_apply(
            session_id=session.id, message_id="msg_nope", status="sent", timestamp=timezone.now()
        )
