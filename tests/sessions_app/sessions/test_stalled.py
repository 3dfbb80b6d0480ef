from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from gateway.models import SystemLog
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import sessions_fail_stalled
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

M = OutboundMessage.Status
S = Session.Status


def test_stalled_start_fails_with_start_timeout(user, worker):
    stalled = SessionFactory(owner=user, worker=worker, status=S.INITIALIZING)
    starting = SessionFactory(owner=user, worker=worker, status=S.INITIALIZING)
    waiting_scan = SessionFactory(owner=user, worker=worker, status=S.QR_REQUIRED)
    long_ago = timezone.now() - timedelta(seconds=django_settings.SESSION_START_TIMEOUT_S + 1)
    Session.objects.filter(id__in=[stalled.id, waiting_scan.id]).update(status_changed_at=long_ago)
    assert sessions_fail_stalled() == 1
    stalled.refresh_from_db()
    assert (stalled.status, stalled.status_reason) == (S.FAILED, "start_timeout")
    assert SystemLog.objects.filter(event="session.failed", session_id=stalled.id).exists()
    starting.refresh_from_db()
    waiting_scan.refresh_from_db()
    assert starting.status == S.INITIALIZING
    assert waiting_scan.status == S.QR_REQUIRED
    assert sessions_fail_stalled() == 0


def test_late_node_report_does_not_undo_start_timeout(user, worker):
    from sessions_app.sessions.services import session_status_apply

    session = SessionFactory(owner=user, worker=worker, status=S.INITIALIZING)
    before = timezone.now() - timedelta(seconds=django_settings.SESSION_START_TIMEOUT_S + 1)
    Session.objects.filter(id=session.id).update(status_changed_at=before)
    sessions_fail_stalled()
    session_status_apply(session_id=session.id, status=S.INITIALIZING, timestamp=before)
    session.refresh_from_db()
    assert session.status == S.FAILED
