"""`GET /health` on WORKER_HOST:WORKER_PORT, served by stdlib http.server in a daemon thread.

200 `{"status": "ok", "workerId", "instanceId", "sessions", "connected", "uptimeS",
"outboxPending"}` (`instanceId`: this process's random id, node_agent.INSTANCE_ID);
`GET /metrics` answers what node_agent.metrics.NodeMetrics says (Prometheus' text format, or
404/403); any other path or method gets a 404 JSON `{"status": "not_found"}`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from node_agent.metrics import NodeMetrics

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

    def _send_metrics(self, metrics: NodeMetrics) -> None:
        try:
            code, content_type, data = metrics.answer(
                authorization=self.headers.get("Authorization", ""),
                client_ip=self.client_address[0],
            )
        except Exception:
            log.exception("metrics failed")
            code, content_type, data = 500, "text/plain; charset=utf-8", b"error"
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == "/metrics" and self.server.metrics is not None:
            self._send_metrics(self.server.metrics)
            return
        if path != "/health":
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
    metrics: NodeMetrics | None = None


class HealthServer:
    """Serve health on `host:port` (port 0 picks a free one; read `.port` after start), and
    `/metrics` when given `metrics` (else that path is 404 like any other)."""

    def __init__(
        self,
        host: str,
        port: int,
        status_fn: Callable[[], dict[str, Any]],
        metrics: NodeMetrics | None = None,
    ) -> None:
        self._server = _HealthHTTPServer((host, port), _Handler)
        self._server.status_fn = status_fn
        self._server.metrics = metrics
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
