from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.errors import (
    QrExpired,
    SessionAlreadyConnected,
)
from sessions_app.sessions.models import Session
from sessions_app.sessions.sandbox import sandbox_scan
from sessions_app.sessions.services import session_connect, session_status_apply
from tests.factories import ConnectedSessionFactory, SessionFactory
from workers_app.errors import NoWorkerAvailable

pytestmark = pytest.mark.django_db


def test_connect_places_session_and_publishes_start_after_commit(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = SessionFactory(owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        session = session_connect(owner=user, session=session, method="qr")
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
                "calls": None,
            },
        }
    ]


def test_connect_without_online_node_changes_nothing(user):
    session = SessionFactory(owner=user)
    with pytest.raises(NoWorkerAvailable):
        session_connect(owner=user, session=session)
    session.refresh_from_db()
    assert session.status == Session.Status.DISCONNECTED
    assert session.worker_id is None


def test_connect_is_idempotent_while_starting(
    user, broker, worker, django_capture_on_commit_callbacks
):
    session = SessionFactory(owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        session_connect(owner=user, session=session)
        session_connect(owner=user, session=session)
    assert len(broker.drain(worker.endpoint)) == 1


def test_connect_rejects_connected_session(user):
    session = ConnectedSessionFactory(owner=user)
    with pytest.raises(SessionAlreadyConnected):
        session_connect(owner=user, session=session)


def test_status_reports_apply_in_order_and_ignore_stale(user, worker):
    session = SessionFactory(owner=user, worker=worker)
    t0 = timezone.now()
    session_status_apply(
        session_id=session.id,
        status="QR_REQUIRED",
        timestamp=t0,
        qr_string="2@ref,a,b,c",
        qr_expires_at=t0 + timedelta(seconds=60),
    )
    session.refresh_from_db()
    assert session.qr_code.startswith("data:image/png;base64,")
    assert session.qr_string == "2@ref,a,b,c"
    session_status_apply(
        session_id=session.id,
        status="CONNECTED",
        timestamp=t0 + timedelta(seconds=2),
        phone_number="15550001111",
    )
    # An older report arriving late changes nothing.
    session_status_apply(
        session_id=session.id, status="QR_REQUIRED", timestamp=t0 + timedelta(seconds=1)
    )
    session.refresh_from_db()
    assert session.status == Session.Status.CONNECTED
    assert session.phone_number == "15550001111"
    assert session.qr_code == ""


def test_sandbox_scan_refuses_stale_qr(user, worker):
    session = SessionFactory(owner=user, worker=worker)
    now = timezone.now()
    session_status_apply(
        session_id=session.id,
        status="QR_REQUIRED",
        timestamp=now,
        qr_string="2@current,a,b,c",
        qr_expires_at=now + timedelta(seconds=60),
    )
    session.refresh_from_db()
    with pytest.raises(QrExpired):
        sandbox_scan(owner=user, session=session, qr_string="2@old,a,b,c")
