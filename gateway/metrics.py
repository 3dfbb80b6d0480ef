"""The gateway's Prometheus series, the rule who may scrape them, and the backend worker's server.

Counters and histograms are defined here and only incremented where things happen (a counter
increment costs well under a microsecond and never a query); gauges of the database and the broker
are read at scrape time (gateway/metrics_web.py). No Django here: the worker's server gets its
settings as arguments, and this module is safe to import from anywhere.

Under gunicorn every web worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(gunicorn.conf.py sets it before the workers start), so a scrape of any worker sums them all.

Who may scrape (`scrape_status`, the same rule in the node agent, node_agent/metrics.py): with
neither METRICS_TOKEN nor METRICS_ALLOWED_IPS set, `/metrics` is 404; else a request needs
`Authorization: Bearer <METRICS_TOKEN>` or a TCP peer address inside METRICS_ALLOWED_IPS, or it is
403. The peer address is the connection's (REMOTE_ADDR), never X-Forwarded-For.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app

from node_agent.scrape_access import Network, scrape_status

log = logging.getLogger(__name__)


# `_created` series double the series count and no dashboard here reads them.
disable_created_metrics()

MESSAGES = Counter(
    "gateway_messages",
    "Outbound messages: accepted (status queued) and every status a node report moved one to.",
    ["status", "type"],
)
SEND_LATENCY = Histogram(
    "gateway_message_send_latency_seconds",
    "From accepting a send to the node's `sent` (its report's timestamp).",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)
NODE_REPORTS = Counter(
    "gateway_node_reports",
    "Reports of nodes the backend applied or rejected (4xx), by kind.",
    ["kind", "outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "gateway_webhook_attempts",
    "Webhook HTTP attempts by outcome: success (2xx), http_error, timeout, connection_error, "
    "unsafe_url.",
    ["outcome"],
)
WEBHOOK_ATTEMPT_DURATION = Histogram(
    "gateway_webhook_attempt_duration_seconds",
    "Duration of one webhook attempt, connect to answer.",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_DELIVERIES = Counter(
    "gateway_webhook_deliveries",
    "Webhook deliveries that ended: succeeded or failed (retry schedule done, or 410 Gone).",
    ["outcome"],
)
RATE_LIMIT_REFUSALS = Counter(
    "gateway_rate_limit_refusals",
    "Requests refused with 429, by code (rate_limited, quota_exceeded, new_number_daily_cap) and "
    "limit (api, checks, auth; day, month; new_number).",
    ["code", "limit"],
)

WEBHOOK_OUTCOMES = ("success", "http_error", "timeout", "connection_error", "unsafe_url")
REPORT_KINDS = (
    "session_status",
    "message_status",
    "message_received",
    "group_event",
    "session_event",
    "media",
    "usage",
    "register",
    "heartbeat",
)
# Known label values start at 0, so a rate() sees the first increment and alerts see no gap.
for _outcome in WEBHOOK_OUTCOMES:
    WEBHOOK_ATTEMPTS.labels(_outcome)
for _outcome in ("succeeded", "failed"):
    WEBHOOK_DELIVERIES.labels(_outcome)
for _kind in REPORT_KINDS:
    for _outcome in ("applied", "rejected"):
        NODE_REPORTS.labels(_kind, _outcome)
for _code, _limit in (
    ("rate_limited", "api"),
    ("rate_limited", "checks"),
    ("rate_limited", "auth"),
    ("quota_exceeded", "day"),
    ("quota_exceeded", "month"),
    ("new_number_daily_cap", "new_number"),
):
    RATE_LIMIT_REFUSALS.labels(_code, _limit)


def rate_limit_refused(code: str, limit: str) -> None:
    """Count one 429 (called where the refusal is made)."""
    RATE_LIMIT_REFUSALS.labels(code, limit).inc()


def node_report_counted(kind: str, *, applied: bool) -> None:
    NODE_REPORTS.labels(kind, "applied" if applied else "rejected").inc()


class CountedReport:
    """A DRF view mixin for what nodes report: its answer counts in gateway_node_reports_total,
    2xx applied, 4xx rejected (a refused node token and 5xx are neither: nothing was judged)."""

    report_kind = ""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        code = response.status_code
        if self.report_kind and code < 500 and code not in (401, 403):
            node_report_counted(self.report_kind, applied=code < 300)
        return response


# --- Who may scrape -----------------------------------------------------------------------------


# --- The backend worker's server ----------------------------------------------------------------

_REASONS = {403: "403 Forbidden", 404: "404 Not Found"}


def guarded_wsgi_app(
    registry: Any, *, token: str, networks: Sequence[Network]
) -> Callable[..., Any]:
    """prometheus_client's WSGI app on `/metrics` only, behind `scrape_status`."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        code = scrape_status(
            token=token,
            networks=networks,
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            client_ip=environ.get("REMOTE_ADDR", ""),
        )
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
            code = 404
        if code != 200:
            start_response(_REASONS[code], [("Content-Type", "text/plain; charset=utf-8")])
            return [_REASONS[code].encode()]
        return metrics_app(environ, start_response)

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("metrics %s", format % args)


class MetricsServer:
    """Serve `registry` on `host:port`/metrics in a daemon thread (port 0: a free one)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        token: str,
        networks: Sequence[Network],
        registry: Any = REGISTRY,
    ) -> None:
        self._server = make_server(
            host,
            port,
            guarded_wsgi_app(registry, token=token, networks=networks),
            server_class=ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="metrics",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def worker_metrics_start(
    *, host: str, port: int, token: str, networks: Sequence[Network]
) -> MetricsServer | None:
    """Start the backend worker's metrics server; None when port is 0 or taken (logged: a
    second worker on the machine must not fail for want of a metrics port)."""
    if not port:
        return None
    try:
        server = MetricsServer(host, port, token=token, networks=networks).start()
    except OSError as exc:
        log.warning("metrics not served on %s:%s: %s (set METRICS_WORKER_PORT)", host, port, exc)
        return None
    log.info("metrics on http://%s:%s/metrics", host, server.port)
    return server
