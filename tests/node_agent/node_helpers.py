"""Helpers for node agent tests: a fake backend on loopback, polling, session setup."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

from node_agent.heartbeat import Heartbeat
from node_agent.protocol import REPORTS_PATH, RESULTS, SESSION_STATUS_PATH
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
        # Report batches as they came ({paths, status}); None: answer 404 to batches, like a
        # backend without the route (the node then sends one report a request).
        self.batches = []
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
                parsed = json.loads(raw) if raw else None
                if self.path == REPORTS_PATH and backend.batches is None:
                    status, body = 404, {"success": False, "error": {"code": "not_found"}}
                elif self.path == REPORTS_PATH:
                    status, body = backend.take_batch(self, parsed)
                else:
                    status = backend.record(self.command, self.path, dict(self.headers), parsed)
                    body = backend.envelope(self.path, status)
                if status == 0:
                    self.close_connection = True
                    return
                self.send_body(
                    status, json.dumps(body).encode(), {"Content-Type": "application/json"}
                )

            do_POST = do_PUT = do_GET = _handle

        self.server = LoopbackServer(Handler)
        self.url = self.server.url

    def record(self, method, path, headers, body):
        """Record a request and return the status it gets (the next queued one, or default)."""
        with self.lock:
            queued = self.answers.get(path)
            status = queued.pop(0) if queued else self.default_status
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "headers": headers,
                    "body": body,
                    "answered": status,
                }
            )
        return status

    def envelope(self, path, status):
        ok = 200 <= status < 300
        body = {"success": ok}
        if ok and path in self.data:
            body["data"] = self.data[path]
        if not ok and path in self.errors:
            body["error"] = self.errors[path]
        return body

    def take_batch(self, handler, batch):
        """Answer a report batch as the backend does, recording each report as if posted alone.

        Each report gets the status queued for its own path. The first that fails as a server
        would (no answer, 5xx, 408, 429, and 401 or 403: a refused credential refuses the whole
        request) fails the whole batch: it and the ones before it are recorded with that status
        (none applied) and the rest are not looked at.
        """
        reports = batch["reports"]
        entry = {"paths": [r["path"] for r in reports], "status": 200}
        with self.lock:
            self.batches.append(entry)
        statuses = []
        for report in reports:
            status = self.record("POST", report["path"], dict(handler.headers), report["body"])
            statuses.append(status)
            if status == 0 or status >= 500 or status in (401, 403, 408, 429):
                with self.lock:
                    entry["status"] = status
                    for recorded in self.requests[-len(statuses) :]:
                        recorded["answered"] = status
                return status, {"success": False}
        results = [
            {"status": status, "code": (self.errors.get(report["path"]) or {}).get("code", "")}
            for report, status in zip(reports, statuses, strict=True)
        ]
        return 200, {"success": True, "data": {RESULTS: results}}

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
