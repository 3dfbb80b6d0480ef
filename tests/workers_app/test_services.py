from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from gateway.models import SystemLog
from sessions_app import services as session_services
from sessions_app.models import Session
from tests.factories import ConnectedSessionFactory, SessionFactory, WorkerFactory
from workers_app.models import Worker
from workers_app.services import (
    NoWorkerAvailable,
    WorkerAlreadyExists,
    WorkerIdInUse,
    WorkerNotFound,
    heartbeat_deadline,
    worker_create,
    worker_drain,
    worker_heartbeat,
    worker_pick,
    worker_register,
    worker_remove,
    worker_undrain,
    workers_mark_offline,
)

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


# --- Operator actions: drain, undrain, remove, add ---------------------------------------------

STORE = "pg-main"


def _queued(broker, worker):
    return [(t["task"], t["kwargs"]) for t in broker.drain(worker.endpoint)]


def test_drain_hands_movable_sessions_over_and_keeps_the_rest(
    user, worker, broker, django_capture_on_commit_callbacks
):
    source = worker
    Worker.objects.filter(id=source.id).update(session_store=STORE)
    source.refresh_from_db()
    target = WorkerFactory(session_store=STORE)
    movable = ConnectedSessionFactory(owner=user, worker=source)
    local = ConnectedSessionFactory(owner=user, worker=source, credential_store="")
    linking = SessionFactory(owner=user, worker=source, status=S.QR_REQUIRED, qr_string="2@q")

    with django_capture_on_commit_callbacks(execute=True):
        drained, evacuation = worker_drain(worker_id=source.id)

    assert drained.status == Worker.Status.DRAINING
    assert [(m.session_id, m.source, m.target) for m in evacuation.moved] == [
        (movable.id, source.id, target.id)
    ]
    assert evacuation.stayed == 2
    for session in (movable, local, linking):
        session.refresh_from_db()
    assert (movable.worker_id, movable.status, movable.status_reason) == (
        target.id,
        S.RECONNECTING,
        "node_moved",
    )
    # The rest stay untouched on the draining node: the QR is still the user's to scan.
    assert (local.worker_id, local.status) == (source.id, S.CONNECTED)
    assert (linking.status, linking.qr_string) == (S.QR_REQUIRED, "2@q")
    # The source stops the moved session first; its stop carries the start (see node_client).
    assert _queued(broker, source) == [
        ("node_agent.tasks.session_stop", {"sessionId": movable.id, "moved": True})
    ]
    log = SystemLog.objects.get(event="node.draining", worker_id=source.id)
    assert "1 sessions moved, 2 could not move" in log.message
    broker.clear(target.endpoint)


def test_drained_node_takes_no_new_session_and_undrain_restores_it(user):
    only = WorkerFactory()
    worker_drain(worker_id=only.id)
    with pytest.raises(NoWorkerAvailable):
        session_services.session_connect(owner=user, session=SessionFactory(owner=user))
    # Its own card does not go back to it either.
    card = SessionFactory(owner=user, worker=only, status=S.DISCONNECTED)
    with pytest.raises(NoWorkerAvailable):
        session_services.session_connect(owner=user, session=card)

    assert worker_undrain(worker_id=only.id).status == Worker.Status.ONLINE
    assert worker_undrain(worker_id=only.id).status == Worker.Status.ONLINE  # a repeat is safe
    session = session_services.session_connect(owner=user, session=card)
    assert session.worker_id == only.id
    assert SystemLog.objects.filter(event="node.undrained", worker_id=only.id).count() == 1


def test_operator_drain_outlives_an_outage_and_undrain_of_an_offline_node_forgets_it():
    node = WorkerFactory(status=Worker.Status.OFFLINE)
    drained, _ = worker_drain(worker_id=node.id)
    assert (drained.status, drained.drain_requested_by) == (Worker.Status.OFFLINE, "operator")
    worker_heartbeat(worker_id=node.id, metrics={})
    node.refresh_from_db()
    assert node.status == Worker.Status.DRAINING
    Worker.objects.filter(id=node.id).update(status=Worker.Status.OFFLINE)
    worker_register(worker_id=node.id, max_sessions=5, engines=["sandbox"])
    node.refresh_from_db()
    assert node.status == Worker.Status.DRAINING

    Worker.objects.filter(id=node.id).update(status=Worker.Status.OFFLINE)
    assert worker_undrain(worker_id=node.id).status == Worker.Status.OFFLINE
    worker_register(worker_id=node.id, max_sessions=5, engines=["sandbox"])
    node.refresh_from_db()
    assert node.status == Worker.Status.ONLINE


def test_operator_actions_on_an_unknown_node_raise_not_found():
    for action in (worker_drain, worker_undrain, worker_remove):
        with pytest.raises(WorkerNotFound):
            action(worker_id="ghost")


def test_remove_moves_what_can_move_and_disconnects_the_rest(
    user, worker, broker, django_capture_on_commit_callbacks
):
    source = worker
    Worker.objects.filter(id=source.id).update(session_store=STORE)
    source.refresh_from_db()
    target = WorkerFactory(session_store=STORE)
    movable = ConnectedSessionFactory(owner=user, worker=source)
    local = ConnectedSessionFactory(owner=user, worker=source, credential_store="")
    card = SessionFactory(owner=user, worker=source, status=S.DISCONNECTED)

    with django_capture_on_commit_callbacks(execute=True):
        evacuation = worker_remove(worker_id=source.id)

    assert [m.target for m in evacuation.moved] == [target.id]
    assert evacuation.stayed == 1
    assert not Worker.objects.filter(id=source.id).exists()
    for session in (movable, local, card):
        session.refresh_from_db()
    assert (movable.worker_id, movable.status) == (target.id, S.RECONNECTING)
    assert (local.worker_id, local.status, local.status_reason) == (
        None,
        S.DISCONNECTED,
        "node_removed",
    )
    assert (card.worker_id, card.status, card.status_reason) == (None, S.DISCONNECTED, "")
    # The node was alive, so it stops the moved session before the target starts it.
    assert _queued(broker, source) == [
        ("node_agent.tasks.session_stop", {"sessionId": movable.id, "moved": True})
    ]
    assert SystemLog.objects.filter(event="session.node_removed", session_id=local.id).exists()
    broker.clear(target.endpoint)


def test_remove_of_an_offline_node_starts_moved_sessions_on_the_target_directly(
    user, worker, broker, django_capture_on_commit_callbacks
):
    target = worker
    Worker.objects.filter(id=target.id).update(session_store=STORE)
    dead = WorkerFactory(session_store=STORE, status=Worker.Status.OFFLINE)
    # Still CONNECTED: the health sweep has not run since no node of its store was up.
    session = ConnectedSessionFactory(owner=user, worker=dead)
    with django_capture_on_commit_callbacks(execute=True):
        worker_remove(worker_id=dead.id)
    tasks = _queued(broker, target)
    assert [name for name, _ in tasks] == ["node_agent.tasks.session_start"]
    assert tasks[0][1]["sessionId"] == session.id
    assert broker.drain(dead.endpoint) == []


def test_create_adds_an_offline_node_that_its_registration_brings_online():
    created = worker_create(worker_id="node-new", max_sessions=7, engines=["sandbox", "sandbox"])
    assert (created.status, created.endpoint, created.engines) == (
        Worker.Status.OFFLINE,
        "node.node-new",
        ["sandbox"],
    )
    assert created.last_heartbeat is None
    with pytest.raises(NoWorkerAvailable):
        worker_pick(engine="sandbox")
    with pytest.raises(WorkerAlreadyExists):
        worker_create(worker_id="node-new", max_sessions=1, engines=["sandbox"])
    worker_register(worker_id="node-new", max_sessions=9, engines=["sandbox"], session_store=STORE)
    node = Worker.objects.get(id="node-new")
    assert (node.status, node.max_sessions, node.session_store) == ("ONLINE", 9, STORE)
    assert worker_pick(engine="sandbox").id == "node-new"


def test_pick_by_store_and_exclusion():
    WorkerFactory(session_store="", max_sessions=100)
    first = WorkerFactory(session_store=STORE)
    second = WorkerFactory(session_store=STORE)
    SessionFactory(worker=first)
    assert worker_pick(engine="sandbox", store=STORE).id == second.id
    assert worker_pick(engine="sandbox", store=STORE, exclude=[second.id]).id == first.id
    with pytest.raises(NoWorkerAvailable):
        worker_pick(engine="sandbox", store="pg-none")


def test_register_refuses_when_another_process_registered_during_the_probe(monkeypatch):
    worker = WorkerFactory(instance_id="a" * 32, health_url="http://old/health")

    def probe(**kwargs):
        # While the dead first process is asked, a third one registers.
        Worker.objects.filter(id=worker.id).update(instance_id="c" * 32)
        return False

    monkeypatch.setattr("workers_app.services.node_answers_health", probe)

    with pytest.raises(WorkerIdInUse):
        worker_register(
            worker_id=worker.id, max_sessions=1, engines=["sandbox"], instance_id="b" * 32
        )

    worker.refresh_from_db()
    assert (worker.instance_id, worker.max_sessions) == ("c" * 32, 10)
