"""Fixtures of the node registry tests: a node's health server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _Health(BaseHTTPRequestHandler):
    answer: tuple[int, object] = (200, {})

    def do_GET(self) -> None:  # noqa: N802
        self.server.hits += 1
        code, body = self.server.answer
        raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server():
    """A real HTTP server on loopback whose answer a test sets: `server.answer = (code, body)`.

    `server.hits` counts the requests it got.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.answer = (200, {})
    server.hits = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/health"
    yield server
    server.shutdown()
    server.server_close()
