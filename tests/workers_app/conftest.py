"""Fixtures of the node registry tests: a node's health server on loopback."""

from __future__ import annotations

import json

import pytest

from tests.http_server import QuietHandler, serve


class _Health(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.server.hits += 1
        code, body = self.server.answer
        raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_body(code, raw, {"Content-Type": "application/json"})


@pytest.fixture
def health_server():
    """A real HTTP server on loopback whose answer a test sets: `server.answer = (code, body)`.

    `server.hits` counts the requests it got; `server.url` is its health URL.
    """
    with serve(_Health) as server:
        server.answer = (200, {})
        server.hits = 0
        server.health_url = f"{server.url}/health"
        yield server
