from datetime import timedelta

import pytest
from django.utils import timezone

from gateway.models import SystemLog
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_connect
from tests.factories import ConnectedSessionFactory, SessionFactory, WorkerFactory
from workers_app.fleet.health import workers_mark_offline
from workers_app.models import Worker, heartbeat_deadline

pytestmark = pytest.mark.django_db

S = Session.Status


def _silence(worker):
    stale = timezone.now() - heartbeat_deadline() - timedelta(seconds=1)
    Worker.objects.filter(id=worker.id).update(last_heartbeat=stale)


def test_offline_node_loses_its_running_sessions(user):
    dead, alive = WorkerFactory(), WorkerFactory()
    connected = ConnectedSessionFactory(owner=user, worker=dead)
    starting = SessionFactory(owner=user, worker=dead, status=S.QR_REQUIRED)
    stopped = SessionFactory(owner=user, worker=dead, status=S.LOGGED_OUT)
    elsewhere = ConnectedSessionFactory(owner=user, worker=alive)
    _silence(dead)

    assert workers_mark_offline() == [dead.id]

    for session in (connected, starting, stopped, elsewhere):
        session.refresh_from_db()
    assert (connected.status, connected.status_reason) == (S.DISCONNECTED, "node_lost")
    assert (starting.status, starting.status_reason) == (S.DISCONNECTED, "node_lost")
    assert starting.qr_string == ""
    assert stopped.status == S.LOGGED_OUT
    assert elsewhere.status == S.CONNECTED
    logged = set(
        SystemLog.objects.filter(event="session.node_lost").values_list("session_id", flat=True)
    )
    assert logged == {connected.id, starting.id}
    assert SystemLog.objects.filter(event="node.offline", worker_id=dead.id).exists()
    assert workers_mark_offline() == []


def test_session_of_offline_node_reconnects_on_another_node(
    user, worker, broker, django_capture_on_commit_callbacks
):
    dead = WorkerFactory()
    session = ConnectedSessionFactory(owner=user, worker=dead)
    _silence(dead)
    workers_mark_offline()
    alive = worker
    with django_capture_on_commit_callbacks(execute=True):
        session = session_connect(owner=user, session=session)
    assert session.worker_id == alive.id
    assert session.status == S.INITIALIZING
    (task,) = broker.drain(alive.endpoint)
    assert task["task"] == "node_agent.tasks.session_start"
    assert task["kwargs"]["sessionId"] == session.id
