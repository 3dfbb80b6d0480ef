from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_connect
from tests.factories import ConnectedSessionFactory, SessionFactory, WorkerFactory
from workers_app.errors import NoWorkerAvailable
from workers_app.models import Worker, heartbeat_deadline
from workers_app.placement import worker_pick

pytestmark = pytest.mark.django_db

S = Session.Status

STORE = "pg-main"


def _silence(worker):
    stale = timezone.now() - heartbeat_deadline() - timedelta(seconds=1)
    Worker.objects.filter(id=worker.id).update(last_heartbeat=stale)


def test_placement_spreads_twenty_sessions_by_capacity(unlimited):
    user = unlimited
    small = WorkerFactory(max_sessions=10)
    large = WorkerFactory(max_sessions=30)
    for _ in range(20):
        session_connect(owner=user, session=SessionFactory(owner=user))
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
    session = session_connect(owner=user, session=SessionFactory(owner=user))
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


def test_pick_by_store_and_exclusion():
    WorkerFactory(session_store="", max_sessions=100)
    first = WorkerFactory(session_store=STORE)
    second = WorkerFactory(session_store=STORE)
    SessionFactory(worker=first, status=S.CONNECTED)
    SessionFactory(worker=second, status=S.DISCONNECTED)  # holds no connection: takes no room
    assert worker_pick(engine="sandbox", store=STORE).id == second.id
    assert worker_pick(engine="sandbox", store=STORE, exclude=[second.id]).id == first.id
    with pytest.raises(NoWorkerAvailable):
        worker_pick(engine="sandbox", store="pg-none")


def test_placement_counts_the_statuses_that_hold_a_connection():
    from sessions_app.sessions.status import STARTING
    from workers_app.placement import HOLDING_STATUSES

    assert set(HOLDING_STATUSES) == {*STARTING, S.CONNECTED}
