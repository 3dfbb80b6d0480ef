"""`GET /health` on WORKER_HOST:WORKER_PORT, served by stdlib http.server in a daemon thread.

200 `{"status": "ok", "workerId", "instanceId", "sessions", "connected", "uptimeS",
"outboxPending"}` (`instanceId`: this process's random id, node_agent.INSTANCE_ID);
any other path or method gets a 404 JSON `{"status": "not_found"}`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: _HealthHTTPServer

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?", 1)[0] != "/health":
            self._send(404, {"status": "not_found"})
            return
        try:
            self._send(200, {"status": "ok", **self.server.status_fn()})
        except Exception:
            log.exception("health check failed")
            self._send(500, {"status": "error"})

    def do_POST(self) -> None:  # noqa: N802
        self._send(404, {"status": "not_found"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("health %s", format % args)


class _HealthHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    status_fn: Callable[[], dict[str, Any]]


class HealthServer:
    """Serve health on `host:port` (port 0 picks a free one; read `.port` after start)."""

    def __init__(self, host: str, port: int, status_fn: Callable[[], dict[str, Any]]) -> None:
        self._server = _HealthHTTPServer((host, port), _Handler)
        self._server.status_fn = status_fn
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="health",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """Return the bound port."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
