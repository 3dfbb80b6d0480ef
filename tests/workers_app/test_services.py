from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from gateway.models import SystemLog
from sessions_app import services as session_services
from sessions_app.models import Session
from tests.factories import ConnectedSessionFactory, SessionFactory, WorkerFactory
from workers_app.models import Worker
from workers_app.services import heartbeat_deadline, workers_mark_offline

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
        session = session_services.session_connect(owner=user, session=session)
    assert session.worker_id == alive.id
    assert session.status == S.INITIALIZING
    (task,) = broker.drain(alive.endpoint)
    assert task["task"] == "node_agent.tasks.session_start"
    assert task["kwargs"]["sessionId"] == session.id


def test_placement_spreads_twenty_sessions_by_capacity(user):
    small = WorkerFactory(max_sessions=10)
    large = WorkerFactory(max_sessions=30)
    for _ in range(20):
        session_services.session_connect(owner=user, session=SessionFactory(owner=user))
    counts = Counter(Session.objects.values_list("worker_id", flat=True))
    assert counts == {small.id: 5, large.id: 15}


def test_placement_skips_full_offline_stale_and_wrong_engine_nodes(user):
    full = WorkerFactory(max_sessions=1)
    ConnectedSessionFactory(owner=user, worker=full)
    WorkerFactory(status=Worker.Status.OFFLINE)
    WorkerFactory(status=Worker.Status.DRAINING)
    _silence(WorkerFactory())
    WorkerFactory(engines=["whatsapp"])
    free = WorkerFactory()
    session = session_services.session_connect(owner=user, session=SessionFactory(owner=user))
    assert session.worker_id == free.id


def test_connect_with_every_node_unusable_is_503_and_session_unchanged(api, user):
    full = WorkerFactory(max_sessions=1)
    ConnectedSessionFactory(owner=user, worker=full)
    WorkerFactory(status=Worker.Status.OFFLINE)
    _silence(WorkerFactory())
    lost = WorkerFactory(status=Worker.Status.OFFLINE)
    session = SessionFactory(
        owner=user, worker=lost, status=S.DISCONNECTED, status_reason="node_lost"
    )
    response = api.post(f"/api/v1/sessions/{session.id}/connect", {}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_worker_available"
    session.refresh_from_db()
    assert (session.status, session.status_reason, session.worker_id) == (
        S.DISCONNECTED,
        "node_lost",
        lost.id,
    )
