import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from celery import Celery

from node_agent.backend import REGISTER_PATH
from node_agent.broker import broker_settings, node_queue
from node_agent.session_store import SharedSessionStore
from tests.node_agent.node_helpers import STATUS_PATH, TOKEN, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_ID = "node-e2e"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def stop(process):
    """SIGTERM the node; return its log once it exited 0 (fail the test otherwise)."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("node did not stop within 10 s of SIGTERM:\n" + process.log_path.read_text())
    log = process.log_path.read_text()
    assert code == 0, log
    return log


@pytest.mark.e2e
def test_node_process_registers_serves_tasks_and_stops_on_sigterm(tmp_path, backend, node_process):
    heartbeat_path = f"/api/admin/workers/{WORKER_ID}/heartbeat"
    wait_until(lambda: backend.received(heartbeat_path), timeout_s=20, message="heartbeat")
    register = backend.received("/api/admin/workers/register")[0]["body"]
    assert register["endpoint"] == "node.node-e2e"
    assert register["healthUrl"] == f"http://127.0.0.1:{node_process.port}/health"
    with urllib.request.urlopen(register["healthUrl"], timeout=5) as answer:
        assert json.loads(answer.read())["workerId"] == WORKER_ID

    producer = Celery("backend-side")
    producer.conf.update(broker_settings("filesystem://", folder=str(tmp_path / "broker")))
    producer.send_task(
        "node_agent.tasks.session_start",
        kwargs={"sessionId": "e2e-1", "userId": 7, "engine": "sandbox", "method": "qr"},
        queue=node_queue(WORKER_ID),
    )
    qr = wait_until(
        lambda: backend.bodies(STATUS_PATH, sessionId="e2e-1", status="QR_REQUIRED"),
        timeout_s=20,
        message="QR_REQUIRED from the node",
    )[0]
    assert qr["qrString"].startswith("2@")

    log = stop(node_process)
    assert "node node-e2e stopped" in log
    assert TOKEN not in log
    disconnected = backend.bodies(STATUS_PATH, sessionId="e2e-1", status="DISCONNECTED")
    assert disconnected[0]["reason"] == "node_shutdown"


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_node_refused_for_a_worker_id_in_use_exits_2_before_consuming(
    tmp_path, backend, start_node
):
    producer = Celery("backend-side")
    producer.conf.update(broker_settings("filesystem://", folder=str(tmp_path / "broker")))
    producer.send_task(
        "node_agent.tasks.session_start",
        kwargs={"sessionId": "dup-1", "userId": 7, "engine": "sandbox", "method": "qr"},
        queue=node_queue(WORKER_ID),
    )
    backend.answer(REGISTER_PATH, 409)
    backend.errors[REGISTER_PATH] = {
        "code": "worker_id_in_use",
        "message": "Another running node already uses this WORKER_ID.",
    }

    process = start_node()

    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("node did not exit:\n" + process.log_path.read_text())
    log = process.log_path.read_text()
    assert code == 2, log
    assert f"another running node already uses WORKER_ID={WORKER_ID}" in log
    assert [r["path"] for r in backend.requests] == [REGISTER_PATH]
    assert "[queues]" not in log  # the Celery worker never started (no banner)


def test_node_imports_no_django(tmp_path):
    code = (
        "import sys\n"
        "from node_agent.config import NodeConfig\n"
        "from node_agent.celery_app import create_celery_app\n"
        "import node_agent.__main__\n"
        f"config = NodeConfig(backend_auth_token='t', celery_broker_folder={str(tmp_path)!r})\n"
        "app = create_celery_app(config)\n"
        "app.loader.import_default_modules()\n"
        # kombu alone imports django.utils when Django is installed; settings must stay untouched.
        "bad = ('gateway', 'django.conf', 'django.db', 'neonize')\n"
        "assert not [m for m in sys.modules if m.startswith(bad)], sorted(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
