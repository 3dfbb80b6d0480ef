"""A real `python -m node_agent` process against the fake backend (tests/node_agent/fixtures.py).

Tasks reach it as the backend sends them, through a Celery producer on the same filesystem
broker; reports arrive at the fake backend.
"""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from celery import Celery

from node_agent.broker import broker_settings
from node_agent.protocol import REGISTER_PATH, SESSION_STATUS_PATH, heartbeat_path, node_queue
from node_agent.session_store import SharedSessionStore
from tests.e2e.stack import free_port
from tests.node_agent.node_helpers import TOKEN, wait_until

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_ID = "node-e2e"


@pytest.fixture
def start_node(tmp_path, backend):
    """Start `python -m node_agent` processes (killed at teardown); `start_node(**extra_env)`."""
    processes = []

    def start(**extra_env):
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "WORKER_ID": WORKER_ID,
            "WORKER_PORT": str(port),
            "BACKEND_URL": backend.url,
            "BACKEND_AUTH_TOKEN": TOKEN,
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
            "NODE_DB_PATH": str(tmp_path / "node.sqlite3"),
            "SANDBOX_NETWORK_PATH": str(tmp_path / "network.sqlite3"),
            "SESSION_STORAGE_PATH": str(tmp_path / "sessions"),
            "MEDIA_STORAGE_PATH": str(tmp_path / "media"),
            "WORKER_HEARTBEAT_INTERVAL": "0.2",
            "WORKER_CONCURRENCY": "2",
            **extra_env,
        }
        env.pop("REDIS_URL", None)
        log_path = tmp_path / "node.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "node_agent"],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process.port = port
        process.log_path = log_path
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def node_process(start_node):
    return start_node()


def send_session_start(tmp_path, session_id):
    """Send session_start for a sandbox session as the backend does, on the filesystem broker.

    The task's name and arguments are written out: the test pins them as they go on the wire.
    """
    producer = Celery("backend-side")
    producer.conf.update(broker_settings("filesystem://", folder=str(tmp_path / "broker")))
    producer.send_task(
        "node_agent.tasks.session_start",
        kwargs={"sessionId": session_id, "userId": 7, "engine": "sandbox", "method": "qr"},
        queue=node_queue(WORKER_ID),
    )


def exit_code(process, timeout_s):
    """Wait for the node to exit; return its exit code and log (fail the test if it lingers)."""
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"node did not exit within {timeout_s} s:\n" + process.log_path.read_text())
    return code, process.log_path.read_text()


def stop(process):
    """SIGTERM the node; return its log once it exited 0 (fail the test otherwise)."""
    process.send_signal(signal.SIGTERM)
    code, log = exit_code(process, 10)
    assert code == 0, log
    return log


def test_node_process_registers_serves_tasks_and_stops_on_sigterm(tmp_path, backend, node_process):
    wait_until(
        lambda: backend.received(heartbeat_path(WORKER_ID)), timeout_s=20, message="heartbeat"
    )
    register = backend.received(REGISTER_PATH)[0]["body"]
    assert register["endpoint"] == "node.node-e2e"
    assert register["healthUrl"] == f"http://127.0.0.1:{node_process.port}/health"
    with urllib.request.urlopen(register["healthUrl"], timeout=5) as answer:
        assert json.loads(answer.read())["workerId"] == WORKER_ID

    send_session_start(tmp_path, "e2e-1")
    qr = wait_until(
        lambda: backend.bodies(SESSION_STATUS_PATH, sessionId="e2e-1", status="QR_REQUIRED"),
        timeout_s=20,
        message="QR_REQUIRED from the node",
    )[0]
    assert qr["qrString"].startswith("2@")

    log = stop(node_process)
    assert "node node-e2e stopped" in log
    assert TOKEN not in log
    disconnected = backend.bodies(SESSION_STATUS_PATH, sessionId="e2e-1", status="DISCONNECTED")
    assert disconnected[0]["reason"] == "node_shutdown"


def test_node_with_a_shared_store_registers_its_id(backend, start_node, session_store_url):
    process = start_node(SESSION_STORE_URL=session_store_url)

    wait_until(lambda: backend.bodies(REGISTER_PATH), timeout_s=20, message="registration")
    store = SharedSessionStore(session_store_url)
    try:
        assert backend.bodies(REGISTER_PATH)[0]["sessionStore"] == store.store_id
    finally:
        store.close()
    log = stop(process)
    assert session_store_url not in log


def test_node_refused_for_a_worker_id_in_use_exits_2_before_consuming(
    tmp_path, backend, start_node
):
    send_session_start(tmp_path, "dup-1")
    backend.answer(REGISTER_PATH, 409)
    backend.errors[REGISTER_PATH] = {
        "code": "worker_id_in_use",
        "message": "Another running node already uses this WORKER_ID.",
    }

    process = start_node()

    code, log = exit_code(process, 30)
    assert code == 2, log
    assert f"another running node already uses WORKER_ID={WORKER_ID}" in log
    assert [r["path"] for r in backend.requests] == [REGISTER_PATH]
    assert "[queues]" not in log  # the Celery worker never started (no banner)
