"""`GET /metrics` of a node agent, on its health server (WORKER_HOST:WORKER_PORT).

Series: the process's own (prometheus_client's process collector: `process_open_fds`,
`process_resident_memory_bytes`, CPU seconds, start time; Linux only), Python's, and the node's,
read when scraped from what the health check reads (one outbox COUNT, the running sessions):
`gateway_node_outbox_depth`, `gateway_node_sessions`, `gateway_node_sessions_connected`,
`gateway_node_draining`, `gateway_node_engine_reachable{engine}` and `gateway_node_info`.

Who may scrape: node_agent/scrape_access.py, the one rule of all three process kinds. With
neither METRICS_TOKEN nor METRICS_ALLOWED_IPS set, 404; else `Authorization: Bearer
<METRICS_TOKEN>` or a TCP peer address inside METRICS_ALLOWED_IPS, or 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric

from node_agent.scrape_access import Network, scrape_status


class NodeCollector:
    """The node's gauges, from `status_fn` (NodeRuntime.status) and `engines_fn` (the engines'
    names) at each scrape."""

    def __init__(
        self,
        status_fn: Callable[[], dict[str, Any]],
        engines_fn: Callable[[], Iterable[str]],
        *,
        worker_id: str,
        version: str,
    ) -> None:
        self.status_fn = status_fn
        self.engines_fn = engines_fn
        self.worker_id = worker_id
        self.version = version

    def collect(self) -> Iterator[Metric]:
        status = self.status_fn()
        yield InfoMetricFamily(
            "gateway_node",
            "The node agent: its WORKER_ID and version.",
            value={"worker_id": self.worker_id, "version": self.version},
        )
        yield GaugeMetricFamily(
            "gateway_node_outbox_depth",
            "Reports in the node's outbox the backend has not taken yet.",
            value=status["outboxPending"],
        )
        yield GaugeMetricFamily(
            "gateway_node_sessions",
            "Sessions this node is to run.",
            value=status["sessions"],
        )
        yield GaugeMetricFamily(
            "gateway_node_sessions_connected",
            "Sessions of this node connected to WhatsApp (or the sandbox).",
            value=status["connected"],
        )
        yield GaugeMetricFamily(
            "gateway_node_draining",
            "1 when an engine wants the node restarted (e.g. its file descriptor budget ran out).",
            value=1 if status["draining"] else 0,
        )
        reachable = GaugeMetricFamily(
            "gateway_node_engine_reachable",
            "1 when the engine's network answered its last probe.",
            labels=["engine"],
        )
        unreachable = set(status.get("unreachableEngines") or ())
        for engine in sorted(self.engines_fn()):
            reachable.add_metric([engine], 0 if engine in unreachable else 1)
        yield reachable


class NodeMetrics:
    """What `/metrics` of the health server answers (see HealthServer)."""

    def __init__(self, collector: NodeCollector, *, token: str, networks: Sequence[Network]):
        self.token = token
        self.networks = list(networks)
        self.registry = CollectorRegistry()
        for shared in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(shared)
        self.registry.register(collector)

    def answer(self, *, authorization: str, client_ip: str) -> tuple[int, str, bytes]:
        """Return (status, content type, body) for a GET /metrics."""
        code = scrape_status(
            token=self.token,
            networks=self.networks,
            authorization=authorization,
            client_ip=client_ip,
        )
        if code != 200:
            return code, "text/plain; charset=utf-8", b"not found" if code == 404 else b"forbidden"
        return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
