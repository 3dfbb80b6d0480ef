"""Real gateway processes for end-to-end tests: gunicorn, the backend worker with beat, nodes.

Every process is started from this checkout's virtualenv on free loopback ports, logs to a file
in the test's temporary folder, and is stopped (then killed if it lingers) when the test ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE_TOKEN = "e2e-node-token-9f8e7d6c5b4a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Any, *, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    """Poll `predicate` until it returns a truthy value; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the thing polled may not be up yet
            last_error = exc
        time.sleep(interval_s)
    raise AssertionError(
        f"timed out after {timeout_s}s waiting for {what} (last error: {last_error})"
    )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def redis_ping(port: int) -> bool:
    """Return True if a Redis server answers PING on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Stack:
    """A running gateway. `env` is what every process got; `procs` maps a name to its process."""

    tmp: Path
    env: dict[str, str]
    base_url: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    # --- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        handle = log.open("ab")
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_web(self) -> None:
        port = self.base_url.rsplit(":", 1)[1]
        self.spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "gateway.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                self.env.get("WEB_CONCURRENCY", "2"),
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
        )

    def start_stream(self) -> str:
        """Start the event stream process (uvicorn, as the Procfile's `stream`); return its URL."""
        port = free_port()
        self.spawn(
            "stream",
            [
                str(BIN / "uvicorn"),
                "gateway.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{url}/health"), timeout_s=30, what="the stream process")
        return url

    def start_backend_worker(self, concurrency: int = 2) -> None:
        self.spawn(
            "backend",
            [
                str(BIN / "celery"),
                "-A",
                "gateway",
                "worker",
                "--beat",
                "-Q",
                "default,webhooks,webhooks.status",
                "-P",
                "threads",
                "-c",
                str(concurrency),
                "--loglevel",
                "INFO",
            ],
        )

    def start_node(self, worker_id: str = "e2e-node-1", **extra_env: str) -> None:
        """Start a node agent; `extra_env` adds variables (e.g. WORKER_MAX_SESSIONS="5")."""
        self.spawn(
            f"node:{worker_id}",
            [str(BIN / "python"), "-m", "node_agent"],
            {
                "WORKER_ID": worker_id,
                "WORKER_PORT": str(free_port()),
                "NODE_DB_PATH": str(self.tmp / f"node-{worker_id}.sqlite3"),
                "SESSION_STORAGE_PATH": str(self.tmp / f"sessions-{worker_id}"),
                **extra_env,
            },
        )

    def start_redis(self, port: int) -> None:
        """Start a private Redis on `port` that keeps nothing on disk (a restart empties it)."""
        self.spawn(
            "redis",
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
        )
        wait_for(
            lambda: redis_ping(port), timeout_s=10, what=f"Redis on port {port}", interval_s=0.05
        )

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout_s: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        """Stop every process, the last started first (nodes before the broker they use)."""
        for name in reversed(list(self.procs)):
            self.stop(name)

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            parts.append(f"----- {name} -----\n" + "\n".join(text))
        return "\n".join(parts)

    # --- readiness and helpers ---------------------------------------------------------------

    def start_all(self) -> None:
        """Start web, the backend worker and a node; wait until the node is online."""
        self.start_web()
        self.start_backend_worker()
        self.start_node()
        self.wait_ready()

    def wait_ready(self, *, nodes: int = 1, timeout_s: float = 60) -> None:
        def ready() -> bool:
            response = requests.get(f"{self.base_url}/health", timeout=2)
            return response.status_code == 200 and response.json()["nodes"]["online"] >= nodes

        wait_for(ready, timeout_s=timeout_s, what=f"/health with {nodes} node(s) online")

    def manage(self, *args: str) -> str:
        """Run `manage.py` with the stack's environment; returns its standard output."""
        result = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {args} failed:\n{result.stderr}")
        return result.stdout

    def create_api_key(self, email: str, plan: str = "ENTERPRISE") -> str:
        """Create (or reuse) the user on `plan` (default unlimited: the tests measure the
        platform, not a plan's pacing) and a new API key; returns the key."""
        answer = self.manage("create_api_key", "--email", email, "--plan", plan)
        return answer.strip().splitlines()[-1]

    def create_api_key_for_session(self, email: str, session_id: str) -> str:
        """Issue the user a new API key bound to one of their sessions; returns the key."""
        answer = self.manage("create_api_key", "--email", email, "--session", session_id)
        return answer.strip().splitlines()[-1]

    def create_user(self, email: str, password: str, plan: str = "ENTERPRISE") -> None:
        """Create a user who can log in to the dashboard."""
        self.manage(
            "shell",
            "-c",
            "from accounts.services import user_create; "
            f"user_create(email={email!r}, password={password!r}).__class__.objects"
            f".filter(email={email.lower()!r}).update(plan={plan!r})",
        )


def base_env(tmp: Path, **overrides: str) -> dict[str, str]:
    """The environment of every process: short intervals and a sandbox that answers quickly."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL", "DATA_DIR")
    }
    env.update(
        {
            "DATA_DIR": str(tmp / "data"),
            "SECRET_KEY": "e2e-" + "x" * 40,
            "WORKER_AUTH_TOKEN": NODE_TOKEN,
            "BACKEND_AUTH_TOKEN": NODE_TOKEN,
            "WORKER_HEARTBEAT_INTERVAL": "1",
            "WORKER_HEALTH_CHECK_INTERVAL": "1",
            "CELERY_BROKER_FOLDER": str(tmp / "broker"),
            "SANDBOX_NETWORK_PATH": str(tmp / "sandbox-network.sqlite3"),
            "SANDBOX_QR_FIRST_TTL_S": "60",
            "SANDBOX_QR_TTL_S": "20",
            "SANDBOX_CONNECT_DELAY_S": "0.2",
            "SANDBOX_DELIVERY_DELAY_S": "0.3",
            "SANDBOX_READ_DELAY_S": "0.6",
            "PYTHONUNBUFFERED": "1",
            # Webhooks to a loopback receiver, with retries compressed into seconds.
            "ALLOW_PRIVATE_URLS": "true",
            "WEBHOOK_SWEEP_INTERVAL_S": "0.5",
            "WEBHOOK_RETRY_SCHEDULE_S": "0,0.5,1,2",
            "WEBHOOK_REQUEUE_AFTER_S": "5",
            "WEBHOOK_TIMEOUT_S": "5",
        }
    )
    env.update(overrides)
    return env


class Api:
    """A small client for the public API that unwraps the envelope."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.http.request(method, f"{self.base_url}{path}", timeout=10, **kwargs)
        return response.status_code, response.json()

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = self.call(method, path, **kwargs)
        assert status < 300, (status, body)
        assert body.get("success") is True, (status, body)
        return body["data"]

    def link_sandbox(self, name: str, *, timeout_s: float = 30) -> str:
        """Create a sandbox session, connect it, scan its QR; return its id once CONNECTED."""
        sid = self.ok("POST", "/api/v1/sessions", json={"name": name, "engine": "sandbox"})[
            "sessionId"
        ]
        self.ok("POST", f"/api/v1/sessions/{sid}/connect", json={})
        wait_for(
            lambda: self.ok("GET", f"/api/v1/sessions/{sid}/qr")["qrCode"],
            timeout_s=timeout_s,
            what="QR",
        )
        self.ok("POST", f"/api/v1/sessions/{sid}/sandbox/scan", json={})
        wait_for(
            lambda: self.ok("GET", f"/api/v1/sessions/{sid}/status")["status"] == "CONNECTED",
            timeout_s=timeout_s,
            what="CONNECTED",
        )
        return sid
