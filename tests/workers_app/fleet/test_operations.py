import pytest

from gateway.models import SystemLog
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_connect
from tests.factories import ConnectedSessionFactory, SessionFactory, WorkerFactory
from workers_app.errors import NoWorkerAvailable, WorkerNotFound
from workers_app.fleet.operations import worker_drain, worker_remove, worker_undrain
from workers_app.models import Worker
from workers_app.services import worker_heartbeat, worker_register

pytestmark = pytest.mark.django_db

S = Session.Status

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
    local = ConnectedSessionFactory(owner=user, worker=source, session_store="")
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
        session_connect(owner=user, session=SessionFactory(owner=user))
    # Its own card does not go back to it either.
    card = SessionFactory(owner=user, worker=only, status=S.DISCONNECTED)
    with pytest.raises(NoWorkerAvailable):
        session_connect(owner=user, session=card)

    assert worker_undrain(worker_id=only.id).status == Worker.Status.ONLINE
    assert worker_undrain(worker_id=only.id).status == Worker.Status.ONLINE  # a repeat is safe
    session = session_connect(owner=user, session=card)
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
    local = ConnectedSessionFactory(owner=user, worker=source, session_store="")
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
