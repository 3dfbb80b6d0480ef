"""`GET /metrics` of the web process: the counters of every web worker, and gauges read at scrape.

Read at scrape, never on a request's path: sessions by status and engine (one GROUP BY), nodes
(their status, whether online, heartbeat age), and the depth of every queue on the broker (the
backend's and each node's `node.<workerId>`: LLEN on Redis, message files on the embedded
broker). A database or broker that does not answer is reported as `gateway_database_up 0` or
`gateway_broker_up 0`, and the rest is still served. Access: gateway.metrics.scrape_status.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.celery import app as celery_app
from gateway.metrics import scrape_status
from sessions_app.sessions.models import Session
from sessions_app.sessions.selectors import session_counts
from workers_app.models import Worker
from workers_app.selectors import worker_metrics_rows

log = logging.getLogger(__name__)

# The queues the backend worker consumes (the Procfile's -Q).
BACKEND_QUEUES = ("default", "webhooks", "webhooks.status")


def queue_depths(app: Any, queues: Iterable[str]) -> dict[str, int]:
    """Return the messages waiting in each of `queues` on `app`'s broker.

    kombu's channel `_size` is LLEN (summed over priority lists, with the key prefix) on Redis
    and counts the queue's message files on the embedded broker (node_agent/embedded_broker.py);
    Celery offers no public call for it. Raises on a broker that does not answer.
    """
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        return {queue: int(channel._size(queue)) for queue in queues}


class GatewayCollector:
    """The gauges read at scrape time (see the module docstring)."""

    def __init__(self, app: Any = celery_app) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        database_up = GaugeMetricFamily(
            "gateway_database_up", "1 when the database answered this scrape."
        )
        try:
            counts = session_counts()
            workers = worker_metrics_rows()
        except DatabaseError as exc:
            log.warning("metrics: database not read: %s", exc)
            database_up.add_metric([], 0)
            yield database_up
            return
        database_up.add_metric([], 1)
        yield database_up
        yield self._sessions(counts)
        yield from self._nodes(workers)
        yield from self._queues([row["queue"] for row in workers])

    def _sessions(self, counts: dict[tuple[str, str], int]) -> Metric:
        family = GaugeMetricFamily(
            "gateway_sessions", "Sessions by status and engine.", labels=["status", "engine"]
        )
        keys = {(s, e) for s in Session.Status.values for e in Session.Engine.values} | set(counts)
        for status, engine in sorted(keys):
            family.add_metric([status, engine], counts.get((status, engine), 0))
        return family

    def _nodes(self, workers: list[dict[str, Any]]) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "gateway_nodes", "Registered nodes by status.", labels=["status"]
        )
        for status in Worker.Status.values:
            by_status.add_metric([status], sum(1 for w in workers if w["status"] == status))
        online = GaugeMetricFamily(
            "gateway_node_online",
            "1 when the node is ONLINE with a fresh heartbeat (it can take sessions).",
            labels=["node"],
        )
        age = GaugeMetricFamily(
            "gateway_node_heartbeat_age_seconds",
            "Seconds since the node's last heartbeat (nodes that heartbeat at least once).",
            labels=["node"],
        )
        for worker in workers:
            online.add_metric([worker["id"]], 1 if worker["online"] else 0)
            if worker["heartbeat_age_s"] is not None:
                age.add_metric([worker["id"]], max(0.0, worker["heartbeat_age_s"]))
        yield from (by_status, online, age)

    def _queues(self, node_queues: list[str]) -> Iterator[Metric]:
        broker_up = GaugeMetricFamily(
            "gateway_broker_up", "1 when the broker answered this scrape."
        )
        depth = GaugeMetricFamily(
            "gateway_queue_depth",
            "Tasks waiting in a broker queue: the backend's and each node's node.<workerId>.",
            labels=["queue"],
        )
        try:
            depths = queue_depths(self.app, [*BACKEND_QUEUES, *node_queues])
        except Exception as exc:  # any broker error: the scrape goes on without the queues
            log.warning("metrics: broker queues not read: %s", exc)
            broker_up.add_metric([], 0)
            yield broker_up
            return
        broker_up.add_metric([], 1)
        for queue, n in depths.items():
            depth.add_metric([queue], n)
        yield from (broker_up, depth)


class _Union:
    """Several collectors as one, for generate_latest (which only calls `collect`)."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def scrape_registry() -> Any:
    """The counters: every gunicorn worker's (multiprocess files) or this process's alone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics(request: HttpRequest) -> HttpResponse:
    """`GET /metrics` in Prometheus' text format; 404 when metrics are off, 403 when refused."""
    code = scrape_status(
        token=settings.METRICS_TOKEN,
        networks=settings.METRICS_ALLOWED_NETWORKS,
        authorization=request.headers.get("Authorization", ""),
        client_ip=request.META.get("REMOTE_ADDR", ""),
    )
    if request.method != "GET":
        code = 404 if code == 404 else 405
    if code != 200:
        return HttpResponse(status=code, content_type="text/plain; charset=utf-8")
    body = generate_latest(_Union(scrape_registry(), GatewayCollector()))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
