import pytest

from sessions_app.sessions.models import Session
from tests.factories import WorkerFactory
from workers_app.errors import NoWorkerAvailable, WorkerAlreadyExists, WorkerIdInUse
from workers_app.models import Worker
from workers_app.placement import worker_pick
from workers_app.services import worker_create, worker_register

pytestmark = pytest.mark.django_db

S = Session.Status
STORE = "pg-main"


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
