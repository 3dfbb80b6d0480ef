from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from gateway.models import SystemLog
from sessions_app import recovery, tasks
from sessions_app.models import OutboundMessage, Session
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, SessionFactory

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
    session = ConnectedSessionFactory(owner=user, worker=worker)
    message = OutboundMessageFactory(session=session)
    _age(message, 61)
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.messages_republish() == 1
    assert _published(broker, worker) == [
        {
            "task": "node_agent.tasks.message_send",
            "kwargs": {
                "messageId": message.id,
                "sessionId": session.id,
                "payload": message.payload,
            },
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.messages_republish() == 0
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
        assert recovery.messages_republish() == 0
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
        assert recovery.messages_republish() == 2
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
        assert recovery.messages_republish() == 0
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
        assert recovery.messages_republish() == 0
    message.refresh_from_db()
    assert message.status == M.QUEUED


def test_stalled_start_fails_with_start_timeout(user, worker):
    stalled = SessionFactory(owner=user, worker=worker, status=S.INITIALIZING)
    starting = SessionFactory(owner=user, worker=worker, status=S.INITIALIZING)
    waiting_scan = SessionFactory(owner=user, worker=worker, status=S.QR_REQUIRED)
    long_ago = timezone.now() - timedelta(seconds=django_settings.SESSION_START_TIMEOUT_S + 1)
    Session.objects.filter(id__in=[stalled.id, waiting_scan.id]).update(status_changed_at=long_ago)
    assert recovery.sessions_fail_stalled() == 1
    stalled.refresh_from_db()
    assert (stalled.status, stalled.status_reason) == (S.FAILED, "start_timeout")
    assert SystemLog.objects.filter(event="session.failed", session_id=stalled.id).exists()
    starting.refresh_from_db()
    waiting_scan.refresh_from_db()
    assert starting.status == S.INITIALIZING
    assert waiting_scan.status == S.QR_REQUIRED
    assert recovery.sessions_fail_stalled() == 0


def test_late_node_report_does_not_undo_start_timeout(user, worker):
    from sessions_app.services import session_status_apply

    session = SessionFactory(owner=user, worker=worker, status=S.INITIALIZING)
    before = timezone.now() - timedelta(seconds=django_settings.SESSION_START_TIMEOUT_S + 1)
    Session.objects.filter(id=session.id).update(status_changed_at=before)
    recovery.sessions_fail_stalled()
    session_status_apply(session_id=session.id, status=S.INITIALIZING, timestamp=before)
    session.refresh_from_db()
    assert session.status == S.FAILED


def test_tasks_call_their_services():
    with mock.patch("sessions_app.recovery.messages_republish", return_value=3) as republish:
        assert tasks.republish_messages() == 3
    republish.assert_called_once_with()
    with mock.patch("sessions_app.recovery.sessions_fail_stalled", return_value=1) as fail:
        assert tasks.fail_stalled_sessions() == 1
    fail.assert_called_once_with()


def test_every_backend_task_has_a_route_and_beat_entries_exist():
    from gateway.celery import app

    app.loader.import_default_modules()
    ours = [
        name
        for name in app.tasks
        if name.split(".")[0] in ("sessions_app", "workers_app", "billing", "accounts")
    ]
    assert ours
    for name in ours:
        assert name in django_settings.CELERY_TASK_ROUTES, name
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "sessions_app.tasks.republish_messages",
        "sessions_app.tasks.fail_stalled_sessions",
    } <= scheduled
