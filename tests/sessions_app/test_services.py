from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import UsageRecord
from gateway.errors import MessageNotFound, SessionNotConnected
from sessions_app import services
from sessions_app.errors import IdempotencyKeyMismatch, QrExpired, SessionAlreadyConnected
from sessions_app.models import OutboundMessage, Session
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, SessionFactory
from workers_app.services import NoWorkerAvailable

pytestmark = pytest.mark.django_db


def _payload():
    return {"type": "text", "text": "hello"}


def test_connect_places_session_and_publishes_start_after_commit(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = SessionFactory(owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        session = services.session_connect(owner=user, session=session, method="qr")
    assert session.status == Session.Status.INITIALIZING
    assert session.worker_id == worker.id
    tasks = broker.drain(worker.endpoint)
    assert tasks == [
        {
            "task": "node_agent.tasks.session_start",
            "kwargs": {
                "sessionId": session.id,
                "userId": user.id,
                "engine": "sandbox",
                "method": "qr",
                "phoneNumber": None,
            },
        }
    ]


def test_connect_without_online_node_changes_nothing(user):
    session = SessionFactory(owner=user)
    with pytest.raises(NoWorkerAvailable):
        services.session_connect(owner=user, session=session)
    session.refresh_from_db()
    assert session.status == Session.Status.DISCONNECTED
    assert session.worker_id is None


def test_connect_is_idempotent_while_starting(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = SessionFactory(owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_connect(owner=user, session=session)
        services.session_connect(owner=user, session=session)
    assert len(broker.drain(worker.endpoint)) == 1


def test_connect_rejects_connected_session(user):
    session = ConnectedSessionFactory(owner=user)
    with pytest.raises(SessionAlreadyConnected):
        services.session_connect(owner=user, session=session)


def test_status_reports_apply_in_order_and_ignore_stale(user, worker):
    session = SessionFactory(owner=user, worker=worker)
    t0 = timezone.now()
    services.session_status_apply(
        session_id=session.id,
        status="QR_REQUIRED",
        timestamp=t0,
        qr_string="2@ref,a,b,c",
        qr_expires_at=t0 + timedelta(seconds=60),
    )
    session.refresh_from_db()
    assert session.qr_code.startswith("data:image/png;base64,")
    assert session.qr_string == "2@ref,a,b,c"
    services.session_status_apply(
        session_id=session.id,
        status="CONNECTED",
        timestamp=t0 + timedelta(seconds=2),
        phone_number="15550001111",
    )
    # An older report arriving late changes nothing.
    services.session_status_apply(
        session_id=session.id, status="QR_REQUIRED", timestamp=t0 + timedelta(seconds=1)
    )
    session.refresh_from_db()
    assert session.status == Session.Status.CONNECTED
    assert session.phone_number == "15550001111"
    assert session.qr_code == ""


def test_send_rejects_disconnected_session(user, worker):
    session = SessionFactory(owner=user, worker=worker)
    with pytest.raises(SessionNotConnected):
        services.message_send(
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
        message, created = services.message_send(
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
        first, created_first = services.message_send(**kwargs)
        second, created_second = services.message_send(**kwargs)
    assert (created_first, created_second) == (True, False)
    assert first.id == second.id
    assert len(broker.drain(worker.endpoint)) == 1
    with pytest.raises(IdempotencyKeyMismatch):
        services.message_send(**{**kwargs, "payload": {"type": "text", "text": "other"}})


def test_message_status_never_goes_backwards_and_counts_usage_once(user):
    message = OutboundMessageFactory(session=ConnectedSessionFactory(owner=user))
    now = timezone.now()
    for status in ["sent", "read", "delivered", "sent", "read"]:
        services.message_status_apply(
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
    services.message_status_apply(
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
        services.message_status_apply(
            session_id=session.id, message_id="msg_nope", status="sent", timestamp=timezone.now()
        )


def test_sandbox_scan_refuses_stale_qr(user, worker):
    session = SessionFactory(owner=user, worker=worker)
    now = timezone.now()
    services.session_status_apply(
        session_id=session.id,
        status="QR_REQUIRED",
        timestamp=now,
        qr_string="2@current,a,b,c",
        qr_expires_at=now + timedelta(seconds=60),
    )
    session.refresh_from_db()
    with pytest.raises(QrExpired):
        services.sandbox_scan(owner=user, session=session, qr_string="2@old,a,b,c")
