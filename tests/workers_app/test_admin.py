import pytest
from django.test import Client

from gateway.models import SystemLog
from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory, UserFactory, WorkerFactory
from workers_app.models import Worker

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/workers_app/worker/"
STORE = "pg-main"


@pytest.fixture
def staff():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _act(client, action, workers):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [w.id for w in workers]},
        follow=True,
    )


def test_admin_drain_then_undrain(staff, user, worker, broker):
    worker.session_store = STORE
    worker.save()
    target = WorkerFactory(session_store=STORE)
    session = ConnectedSessionFactory(owner=user, worker=worker)

    response = _act(staff, "drain", [worker])
    assert response.status_code == 200
    assert "Drained: 1 sessions moved, 0 could not move." in response.content.decode()
    worker.refresh_from_db()
    session.refresh_from_db()
    assert (worker.status, worker.drain_requested_by) == (Worker.Status.DRAINING, "operator")
    assert session.worker_id == target.id

    _act(staff, "undrain", [worker])
    worker.refresh_from_db()
    assert (worker.status, worker.drain_requested_by) == (Worker.Status.ONLINE, "")
    broker.clear(target.endpoint)


def test_admin_rebalance_moves_between_the_selected_nodes(staff, user):
    busy = WorkerFactory(session_store=STORE)
    idle = WorkerFactory(session_store=STORE)
    unselected = WorkerFactory(session_store=STORE)
    for _ in range(4):
        ConnectedSessionFactory(owner=user, worker=busy)

    response = _act(staff, "rebalance", [busy, idle])

    assert "Rebalanced: 2 sessions moved." in response.content.decode()
    assert sorted(Session.objects.values_list("worker_id", flat=True)) == sorted(
        [busy.id, busy.id, idle.id, idle.id]
    )
    assert not Session.objects.filter(worker=unselected).exists()


def test_admin_remove_goes_through_the_service_and_bulk_delete_is_gone(staff, user, worker):
    session = ConnectedSessionFactory(owner=user, worker=worker)

    response = _act(staff, "remove", [worker])

    assert "Removed: 0 sessions moved, 1 disconnected." in response.content.decode()
    assert not Worker.objects.filter(id=worker.id).exists()
    session.refresh_from_db()
    assert (session.worker_id, session.status, session.status_reason) == (
        None,
        Session.Status.DISCONNECTED,
        "node_removed",
    )
    assert SystemLog.objects.filter(event="node.removed", worker_id=worker.id).exists()
    WorkerFactory()  # the changelist shows its actions only when it lists a node
    page = staff.get(CHANGELIST).content.decode()
    assert 'value="remove"' in page
    assert 'value="delete_selected"' not in page


def test_admin_delete_page_removes_through_the_service(staff, user, worker):
    session = ConnectedSessionFactory(owner=user, worker=worker)
    response = staff.post(f"{CHANGELIST}{worker.id}/delete/", {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert not Worker.objects.filter(id=worker.id).exists()
    session.refresh_from_db()
    assert session.status_reason == "node_removed"


def test_admin_cannot_add_a_node(staff):
    assert staff.get(f"{CHANGELIST}add/").status_code == 403
    response = staff.post(
        f"{CHANGELIST}add/",
        {"id": "node/4", "endpoint": "x", "status": "ONLINE", "max_sessions": 5, "engines": "[]"},
    )
    assert response.status_code == 403
    assert not Worker.objects.exists()


def test_admin_change_form_edits_only_the_capacity(staff, worker):
    worker.status = Worker.Status.DRAINING
    worker.drain_requested_by = "operator"
    worker.save()
    page = staff.get(f"{CHANGELIST}{worker.id}/change/").content.decode()
    assert 'name="max_sessions"' in page
    assert 'name="status"' not in page

    response = staff.post(
        f"{CHANGELIST}{worker.id}/change/",
        {
            "id": "node-copy",
            "status": "ONLINE",
            "drain_requested_by": "",
            "endpoint": "node.elsewhere",
            "max_sessions": 42,
            "session_count": 999,
            "engines": '["sandbox"]',
            "last_heartbeat_0": "2000-01-01",
            "last_heartbeat_1": "00:00:00",
        },
    )

    assert response.status_code == 302
    assert list(Worker.objects.values_list("id", flat=True)) == [worker.id]
    stored = Worker.objects.get()
    assert (stored.status, stored.drain_requested_by) == (Worker.Status.DRAINING, "operator")
    assert (stored.endpoint, stored.max_sessions, stored.session_count) == (
        worker.endpoint,
        42,
        worker.session_count,
    )
    assert stored.last_heartbeat == worker.last_heartbeat
