"""Two processes with one WORKER_ID: each registers with its own instanceId."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gateway.models import SystemLog
from tests.e2e.stack import free_port
from tests.factories import WorkerFactory
from tests.workers_app.nodes import REGISTER
from workers_app.models import Worker

pytestmark = pytest.mark.django_db

FIRST, SECOND = "a" * 32, "b" * 32
REGISTER_PATH = "/api/admin/workers/register"


def _register_first(node_api, health_url):
    body = {**REGISTER, "instanceId": FIRST, "healthUrl": health_url}
    assert node_api.post(REGISTER_PATH, body, format="json").status_code == 200
    return Worker.objects.get(id="node-a")


def _register_second(node_api):
    body = {**REGISTER, "instanceId": SECOND, "maxSessions": 7, "healthUrl": "http://h2/health"}
    return node_api.post(REGISTER_PATH, body, format="json")


def test_register_refuses_a_second_process_while_the_first_answers(node_api, health_server):
    first = _register_first(node_api, health_server.health_url)
    health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": FIRST})

    response = _register_second(node_api)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "worker_id_in_use"
    assert error["message"].startswith("Another running node already uses this WORKER_ID")
    assert health_server.hits == 1
    worker = Worker.objects.get(id="node-a")
    assert (worker.instance_id, worker.max_sessions, worker.health_url) == (
        FIRST,
        50,
        health_server.health_url,
    )
    assert worker.last_heartbeat == first.last_heartbeat
    assert SystemLog.objects.filter(event="node.id_in_use", worker_id="node-a").exists()


@pytest.mark.parametrize("answers_as", ["nobody", "the new process"])
def test_register_takes_over_from_a_process_that_does_not_answer(
    node_api, health_server, answers_as
):
    # A quick restart: the old process is gone; its port is closed or the new one holds it.
    if answers_as == "nobody":
        _register_first(node_api, f"http://127.0.0.1:{free_port()}/health")
    else:
        _register_first(node_api, health_server.health_url)
        health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": SECOND})

    response = _register_second(node_api)

    assert response.status_code == 200
    worker = Worker.objects.get(id="node-a")
    assert (worker.instance_id, worker.max_sessions) == (SECOND, 7)


@pytest.mark.parametrize("how", ["stale heartbeat", "offline"])
def test_register_does_not_ask_a_node_that_is_already_gone(node_api, health_server, how):
    _register_first(node_api, health_server.health_url)
    health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": FIRST})
    if how == "offline":
        Worker.objects.filter(id="node-a").update(status=Worker.Status.OFFLINE)
    else:
        stale = timezone.now() - timedelta(minutes=10)
        Worker.objects.filter(id="node-a").update(last_heartbeat=stale)

    response = _register_second(node_api)

    assert response.status_code == 200
    assert health_server.hits == 0
    assert Worker.objects.get(id="node-a").instance_id == SECOND


def test_same_process_registers_again_without_being_asked(node_api, health_server):
    _register_first(node_api, health_server.health_url)
    health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": FIRST})

    again = _register_first(node_api, health_server.health_url)

    assert health_server.hits == 0
    assert again.instance_id == FIRST


def test_heartbeat_from_another_process_is_refused_and_not_recorded(node_api, health_server):
    first = _register_first(node_api, health_server.health_url)
    path = "/api/admin/workers/node-a/heartbeat"
    metrics = {"sessionCount": 5, "activeConnections": 4, "cpuUsage": 9.0, "memoryUsage": 9.0}

    response = node_api.put(path, {"instanceId": SECOND, "metrics": metrics}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "worker_id_in_use"
    worker = Worker.objects.get(id="node-a")
    assert (worker.session_count, worker.last_heartbeat) == (0, first.last_heartbeat)
    # Its own process, and a node that sends no instanceId (older), are recorded as before.
    for body in [{"instanceId": FIRST, "metrics": metrics}, {"metrics": metrics}]:
        assert node_api.put(path, body, format="json").status_code == 200
    assert Worker.objects.get(id="node-a").session_count == 5


def test_register_and_heartbeat_reject_a_malformed_instance_id(node_api):
    for bad in ["A" * 32, "a" * 31, "a" * 33, "a" * 32 + "\n", "g" * 32]:
        response = node_api.post(REGISTER_PATH, {**REGISTER, "instanceId": bad}, format="json")
        assert response.status_code == 400, bad
        assert list(response.json()["error"]["fields"]) == ["instanceId"]
    assert not Worker.objects.exists()
    WorkerFactory(id="node-a")
    response = node_api.put(
        "/api/admin/workers/node-a/heartbeat", {"instanceId": "x"}, format="json"
    )
    assert response.status_code == 400
