import json
import logging
import re
import socket
import threading
import urllib.error
import urllib.request

import pytest

from node_agent import INSTANCE_ID
from node_agent.error_buffer import ErrorBuffer
from node_agent.health import HealthServer
from node_agent.heartbeat import Heartbeat, WorkerIdInUse
from tests.node_agent.node_helpers import TOKEN, connect, wait_until

# Written out, not taken from node_agent.protocol: these tests pin the paths on the wire.
REGISTER_PATH = "/api/admin/workers/register"
HEARTBEAT_PATH = "/api/admin/workers/node-test/heartbeat"


@pytest.fixture
def health(runtime):
    server = HealthServer("127.0.0.1", 0, runtime.health)
    server.start()
    yield server
    server.stop()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_health_reports_counters(runtime, backend, health):
    connect(runtime, backend)
    runtime.session_start("s2", "u1", "sandbox")

    code, body = get(f"http://127.0.0.1:{health.port}/health")
    assert code == 200
    assert body["status"] == "ok"
    assert body["workerId"] == "node-test"
    assert (body["sessions"], body["connected"]) == (2, 1)
    assert body["uptimeS"] >= 0
    assert isinstance(body["outboxPending"], int)


def test_health_unknown_path_is_404(health):
    code, body = get(f"http://127.0.0.1:{health.port}/nope")
    assert code == 404
    assert body == {"status": "not_found"}


@pytest.fixture
def heartbeat(runtime, monkeypatch):
    monkeypatch.setattr("node_agent.heartbeat.backoff_s", lambda attempt: 0.01)
    beat = Heartbeat(
        runtime.config,
        "http://127.0.0.1:8001/health",
        runtime.status,
        engines=list(runtime.engines),
    )
    yield beat
    beat.stop()


def test_registers_after_backend_comes_up_then_heartbeats(backend, heartbeat):
    backend.answer(REGISTER_PATH, 0, 503)
    heartbeat.start()

    wait_until(lambda: backend.received(HEARTBEAT_PATH, method="PUT"), message="heartbeat")
    register = backend.received(REGISTER_PATH)
    assert len(register) == 1
    assert len(backend.received(REGISTER_PATH, ok_only=False)) == 3
    assert register[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert register[0]["body"] == {
        "workerId": "node-test",
        "instanceId": INSTANCE_ID,
        "endpoint": "node.node-test",
        "maxSessions": 100,
        "engines": ["sandbox", "whatsapp"],
        "version": "0.1.0",
        "healthUrl": "http://127.0.0.1:8001/health",
        "sessionStore": "",
    }
    beat = backend.received(HEARTBEAT_PATH)[0]["body"]
    assert beat["status"] == "ONLINE"
    metrics = beat["metrics"]
    assert set(metrics) == {"sessionCount", "cpuUsage", "memoryUsage", "activeConnections"}
    assert isinstance(metrics["cpuUsage"], float)
    assert isinstance(metrics["memoryUsage"], float)
    assert (metrics["sessionCount"], metrics["activeConnections"]) == (0, 0)


def test_heartbeat_404_registers_again(backend, heartbeat):
    backend.answer(HEARTBEAT_PATH, 404)
    heartbeat.start()

    wait_until(lambda: len(backend.received(REGISTER_PATH)) == 2, message="second register")
    wait_until(lambda: backend.received(HEARTBEAT_PATH), message="heartbeat after re-register")


def test_refused_registration_logs_the_backends_reason(backend, heartbeat, caplog):
    backend.answer(REGISTER_PATH, 400, 400)
    backend.errors[REGISTER_PATH] = {
        "code": "validation_error",
        "message": "Invalid input.",
        "fields": {"workerId": ["Invalid node id: 'register' is reserved by the backend's API."]},
    }
    caplog.set_level("WARNING", logger="node_agent.heartbeat")

    assert not heartbeat.register_once()
    heartbeat.start()
    wait_until(lambda: backend.received(HEARTBEAT_PATH, method="PUT"), message="heartbeat")

    lines = [record.getMessage() for record in caplog.records]
    refusals = [line for line in lines if "registration failed" in line]
    assert len(refusals) == 2
    for line in refusals:
        assert "HTTP 400 validation_error: Invalid input." in line
        assert "'register' is reserved" in line


def test_registration_heartbeats_and_health_carry_this_process_instance_id(
    backend, heartbeat, health
):
    heartbeat.start()
    wait_until(lambda: len(backend.received(HEARTBEAT_PATH)) >= 2, message="two heartbeats")

    code, body = get(f"http://127.0.0.1:{health.port}/health")
    assert code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", body["instanceId"])
    sent = [r["body"]["instanceId"] for r in backend.received(REGISTER_PATH)]
    sent += [r["body"]["instanceId"] for r in backend.received(HEARTBEAT_PATH)]
    assert set(sent) == {body["instanceId"]}


ID_IN_USE = {"code": "worker_id_in_use", "message": "Another running node uses this WORKER_ID."}


@pytest.fixture
def stopping_heartbeat(runtime, monkeypatch):
    """A Heartbeat whose stop action sets `beat.stopped` instead of stopping the process."""
    monkeypatch.setattr("node_agent.heartbeat.backoff_s", lambda attempt: 0.01)
    stopped = threading.Event()
    beat = Heartbeat(
        runtime.config,
        "http://127.0.0.1:8001/health",
        runtime.status,
        engines=list(runtime.engines),
        stop_fn=stopped.set,
    )
    beat.stopped = stopped
    yield beat
    beat.stop()


def test_register_once_raises_when_another_process_uses_the_worker_id(backend, stopping_heartbeat):
    backend.answer(REGISTER_PATH, 409)
    backend.errors[REGISTER_PATH] = ID_IN_USE

    with pytest.raises(WorkerIdInUse, match="worker_id_in_use"):
        stopping_heartbeat.register_once()
    assert stopping_heartbeat.refused.is_set()
    assert not stopping_heartbeat.stopped.is_set()


def test_heartbeat_409_then_registration_409_stops_the_process(backend, stopping_heartbeat, caplog):
    backend.answer(HEARTBEAT_PATH, 409)
    backend.answer(REGISTER_PATH, 200, 409)
    backend.errors[REGISTER_PATH] = ID_IN_USE
    backend.errors[HEARTBEAT_PATH] = ID_IN_USE
    caplog.set_level("ERROR", logger="node_agent.heartbeat")
    stopping_heartbeat.start()

    assert stopping_heartbeat.stopped.wait(10)
    assert stopping_heartbeat.refused.is_set()
    assert not stopping_heartbeat.registered.is_set()
    assert [r["answered"] for r in backend.requests] == [200, 409, 409]
    assert any("WORKER_ID=node-test" in r.getMessage() for r in caplog.records)


def test_heartbeat_409_then_accepted_registration_goes_on(backend, stopping_heartbeat):
    # The other process was gone after all (the backend found it dead): this one takes over.
    backend.answer(HEARTBEAT_PATH, 409)
    backend.errors[HEARTBEAT_PATH] = ID_IN_USE
    stopping_heartbeat.start()

    wait_until(lambda: len(backend.received(REGISTER_PATH)) == 2, message="second register")
    wait_until(lambda: backend.received(HEARTBEAT_PATH), message="heartbeat after re-register")
    assert not stopping_heartbeat.stopped.is_set()
    assert not stopping_heartbeat.refused.is_set()


def test_heartbeats_carry_the_errors_logged_since_the_last_one(runtime, backend, monkeypatch):
    errors = ErrorBuffer()
    logger = logging.getLogger("node_agent.test_errors")
    logger.addHandler(errors)
    beat = Heartbeat(
        runtime.config, "http://127.0.0.1:8001/health", runtime.status, engines=[], errors=errors
    )
    backend.answer(HEARTBEAT_PATH, 503)  # the first heartbeat is not answered: kept for the next
    try:
        try:
            {}["missing"]
        except KeyError:
            logger.exception("send to %s failed", "+491701234567")
        logger.warning("not an error")
        beat.start()
        wait_until(lambda: len(backend.received(HEARTBEAT_PATH)) >= 2, message="two heartbeats")
    finally:
        beat.stop()
        logger.removeHandler(errors)

    first_try = backend.received(HEARTBEAT_PATH, ok_only=False)[0]["body"]["errors"]
    delivered, later = backend.received(HEARTBEAT_PATH)[:2]
    assert delivered["body"]["errors"] == first_try
    [entry] = first_try
    assert entry.pop("at").endswith("+00:00")
    assert entry == {
        "logger": "node_agent.test_errors",
        "message": "send to %s failed",  # the template: the phone number stays out
        "error": "KeyError",
        "where": entry["where"],
    }
    assert re.fullmatch(r"test_node_health\.py:\d+ in test_heartbeats_carry_.*", entry["where"])
    assert "errors" not in later["body"]


def test_the_error_buffer_keeps_the_newest_and_counts_what_it_dropped():
    errors = ErrorBuffer(capacity=2)
    logger = logging.getLogger("node_agent.test_capacity")
    logger.addHandler(errors)
    try:
        for n in range(3):
            logger.error(f"error {n}")
    finally:
        logger.removeHandler(errors)
    taken = errors.take()
    assert [e["message"] for e in taken] == ["error 1", "error 2"]
    assert errors.dropped == 1
    errors.put_back(taken)
    assert [e["message"] for e in errors.take()] == ["error 1", "error 2"]
    assert errors.take() == []


def test_heartbeats_say_when_whatsapp_does_not_answer(make_runtime, backend):
    # The probe dials the proxy when one is set: a closed local port stands for a dead network.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    runtime = make_runtime(
        whatsapp_reachability_s=0.05, whatsapp_proxy_url=f"socks5://127.0.0.1:{port}"
    )
    beat = Heartbeat(runtime.config, "http://127.0.0.1:8001/health", runtime.status, engines=[])
    beat.start()
    try:
        wait_until(
            lambda: any(
                b["body"].get("unreachableEngines") == ["whatsapp"]
                for b in backend.received(HEARTBEAT_PATH)
            ),
            message="a heartbeat naming whatsapp unreachable",
        )
        with socket.socket() as listener:  # the network comes back
            listener.bind(("127.0.0.1", port))
            listener.listen()
            seen = len(backend.received(HEARTBEAT_PATH))
            wait_until(
                lambda: any(
                    b["body"].get("unreachableEngines") == []
                    for b in backend.received(HEARTBEAT_PATH)[seen:]
                ),
                message="a heartbeat with every engine reachable",
            )
    finally:
        beat.stop()
