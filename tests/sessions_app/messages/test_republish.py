from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.services import messages_republish
from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

M = OutboundMessage.Status
S = Session.Status


def _age(message, seconds):
    then = timezone.now() - timedelta(seconds=seconds)
    OutboundMessage.objects.filter(id=message.id).update(created_at=then, updated_at=then)


def _published(broker, worker):
    return [t for t in broker.drain(worker.endpoint) if t["task"].endswith("message_send")]


def test_republish_sends_old_queued_message_to_its_node_once_per_interval(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(
        owner=user, worker=worker, pacing_max_delay_ms=3000, pacing_typing=True
    )
    message = OutboundMessageFactory(session=session)
    _age(message, 61)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_republish() == 1
    assert _published(broker, worker) == [
        {
            "task": "node_agent.tasks.message_send",
            "kwargs": {
                "messageId": message.id,
                "sessionId": session.id,
                "payload": message.payload,
                "ratePerS": 1.0,  # the owner's BASIC plan paces the session's lane
                "burst": 5,
                # and the session's own pacing, so a restarted node gets it back
                "pacing": {"minDelayMs": 0, "maxDelayMs": 3000, "typing": True},
            },
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_republish() == 0
    assert _published(broker, worker) == []
    message.refresh_from_db()
    assert message.status == M.QUEUED


def test_republish_skips_fresh_and_finished_messages(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user, worker=worker)
    OutboundMessageFactory(session=session)
    sent = OutboundMessageFactory(session=session, status=M.SENT)
    _age(sent, 600)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_republish() == 0
    assert _published(broker, worker) == []


def test_republish_is_bounded_by_batch_oldest_first(
    user, broker, worker, settings, django_capture_on_commit_callbacks
):
    settings.MESSAGE_REQUEUE_BATCH = 2
    session = ConnectedSessionFactory(owner=user, worker=worker)
    messages = [OutboundMessageFactory(session=session) for _ in range(3)]
    for age, message in zip((300, 200, 100), messages, strict=True):
        _age(message, age)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_republish() == 2
    ids = [t["kwargs"]["messageId"] for t in _published(broker, worker)]
    assert ids == [messages[0].id, messages[1].id]


def test_message_of_unconnected_session_stays_queued_then_fails(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user, worker=worker, status=S.DISCONNECTED)
    young = OutboundMessageFactory(session=session)
    old = OutboundMessageFactory(session=session)
    _age(young, 120)
    _age(old, django_settings.MESSAGE_QUEUED_MAX_AGE_S + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_republish() == 0
    assert _published(broker, worker) == []
    young.refresh_from_db()
    old.refresh_from_db()
    assert young.status == M.QUEUED
    assert (old.status, old.error_code) == (M.FAILED, "session_not_connected")
    assert old.failed_at is not None


def test_message_of_session_without_node_stays_queued(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user, worker=worker)
    message = OutboundMessageFactory(session=session)
    Session.objects.filter(id=session.id).update(worker=None)
    _age(message, 120)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_republish() == 0
    message.refresh_from_db()
    assert message.status == M.QUEUED
