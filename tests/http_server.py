"""One real HTTP server on loopback for tests: fake backends, webhook receivers, media hosts.

`serve(handler)` starts a `ThreadingHTTPServer` for a `BaseHTTPRequestHandler` subclass on
127.0.0.1 (a free port unless given) in a daemon thread and stops it quickly: `serve_forever`
polls for shutdown every 50 ms instead of its default 500 ms, which made every test server cost
up to half a second to stop.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POLL_INTERVAL_S = 0.05


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not print a line per request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass

    def send_body(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Answer `status` with `body` and `headers` (Content-Length is added)."""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer(ThreadingHTTPServer):
    """A started test server; `url` is `http://127.0.0.1:<port>`. `close()` stops it."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port (safe to repeat)."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> Iterator[LoopbackServer]:
    """Run a LoopbackServer for `handler` for the duration of the block."""
    server = LoopbackServer(handler, port)
    try:
        yield server
    finally:
        server.close()
