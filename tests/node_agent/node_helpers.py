"""Helpers for node agent tests: a fake backend on loopback, polling, session setup."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

from node_agent.heartbeat import Heartbeat
from node_agent.protocol import SESSION_STATUS_PATH
from tests.http_server import LoopbackServer, QuietHandler

TOKEN = "test-node-token"


def wait_until(predicate, timeout_s=10.0, message="condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.02)


class FakeBackend:
    """A loopback HTTP server that records every request and answers as told.

    `answers[path]` is a list of statuses used up one per request (then `default_status`);
    the status `0` means "close the connection without answering".
    """

    def __init__(self):
        self.requests = []  # dicts: method, path, headers, body, answered
        self.answers = defaultdict(list)
        self.default_status = 200
        self.data = {}  # path -> the envelope's `data` of its 2xx answers
        self.errors = {}  # path -> the envelope's `error` of its other answers
        self.lock = threading.Lock()
        backend = self

        class Handler(QuietHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with backend.lock:
                    queued = backend.answers.get(self.path)
                    status = queued.pop(0) if queued else backend.default_status
                    backend.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": json.loads(raw) if raw else None,
                            "answered": status,
                        }
                    )
                if status == 0:
                    self.close_connection = True
                    return
                ok = 200 <= status < 300
                body = {"success": ok}
                if ok and self.path in backend.data:
                    body["data"] = backend.data[self.path]
                if not ok and self.path in backend.errors:
                    body["error"] = backend.errors[self.path]
                self.send_body(
                    status, json.dumps(body).encode(), {"Content-Type": "application/json"}
                )

            do_POST = do_PUT = do_GET = _handle

        self.server = LoopbackServer(Handler)
        self.url = self.server.url

    def answer(self, path, *statuses):
        """Queue statuses for the next requests to `path`."""
        with self.lock:
            self.answers[path].extend(statuses)

    def received(self, path=None, method=None, ok_only=True):
        """Return recorded requests (2xx-answered only by default)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (path is None or r["path"] == path)
                and (method is None or r["method"] == method)
                and (not ok_only or 200 <= r["answered"] < 300)
            ]

    def bodies(self, path, **match):
        """Return the bodies of accepted requests to `path` whose keys equal `match`."""
        return [
            r["body"]
            for r in self.received(path)
            if all(r["body"].get(k) == v for k, v in match.items())
        ]

    def statuses(self, session_id):
        """Return the session-status reports of a session as (status, body) pairs."""
        return [(b["status"], b) for b in self.bodies(SESSION_STATUS_PATH, sessionId=session_id)]

    def close(self):
        self.server.close()


def network_of(runtime):
    return runtime.engines["sandbox"].network


def connect(runtime, backend, session_id="s1", phone="6281200000100"):
    """Start a sandbox session, scan it as `phone`, wait for CONNECTED; return its report."""
    runtime.session_start(session_id, "u1", "sandbox")
    wait_until(lambda: backend.statuses(session_id), message="first status")
    wait_until(
        lambda: runtime.engines["sandbox"].is_running(session_id)
        and [b for s, b in backend.statuses(session_id) if s == "QR_REQUIRED"],
        message="QR",
    )
    runtime.sandbox_action(session_id, "scan", {"phoneNumber": phone})
    return wait_until(
        lambda: [b for s, b in backend.statuses(session_id) if s == "CONNECTED"],
        message="CONNECTED",
    )[-1]


def node_heartbeat(runtime):
    """Return a (not started) Heartbeat of `runtime` wired as the node process wires it."""
    return Heartbeat(
        runtime.config,
        "http://127.0.0.1:8001/health",
        runtime.status,
        engines=list(runtime.engines),
        running_fn=runtime.running_session_ids,
        release_fn=runtime.sessions_release,
        session_store_fn=runtime.session_store_id,
    )


def outbox_drained(runtime):
    """Wait until the node's outbox is empty: every report queued so far reached the backend."""
    wait_until(lambda: runtime.db.outbox_count() == 0, message="outbox empty")
