"""`GET /metrics` on a node's health server: off, refused or served; the outbox depth and the
process's own series (open file descriptors, memory)."""

from __future__ import annotations

import pytest

from node_agent.config import ConfigError, NodeConfig
from node_agent.health import HealthServer
from node_agent.metrics import NodeCollector, NodeMetrics
from node_agent.scrape_access import parse_networks
from tests.metrics_scrape import Scrape, get
from tests.node_agent.node_helpers import TOKEN as NODE_TOKEN
from tests.node_agent.node_helpers import connect

TOKEN = "node-metrics-token-1a2b3c"


def node_metrics(runtime, *, token="", allowed=""):
    collector = NodeCollector(
        runtime.status, lambda: runtime.engines, worker_id=runtime.config.worker_id, version="9.9"
    )
    return NodeMetrics(collector, token=token, networks=parse_networks(allowed.split(",")))


@pytest.fixture
def serve(runtime):
    servers = []

    def start(**access):
        server = HealthServer("127.0.0.1", 0, runtime.health, node_metrics(runtime, **access))
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}/metrics"

    yield start
    for server in servers:
        server.stop()


def test_metrics_are_off_unless_a_token_or_addresses_are_set(serve):
    url = serve()
    assert get(url).status_code == 404
    assert get(url, TOKEN).status_code == 404
    assert get(url.replace("/metrics", "/health")).status_code == 200


def test_a_scrape_needs_the_token_or_an_allowed_address(serve):
    url = serve(token=TOKEN)
    assert get(url).status_code == 403
    assert get(url, "wrong").status_code == 403
    assert get(url, TOKEN).status_code == 200
    assert get(serve(allowed="10.0.0.0/8")).status_code == 403
    assert get(serve(allowed="10.0.0.0/8, 127.0.0.1")).status_code == 200


def test_the_node_exports_its_outbox_sessions_and_process(runtime, backend, serve):
    connect(runtime, backend)
    runtime.outbox.stop()  # what is in the outbox now stays there
    for n in range(3):
        runtime.db.outbox_add("/api/webhooks/session-status", {"n": n})
    scrape = Scrape.of(serve(token=TOKEN), TOKEN)

    assert scrape.value("gateway_node_outbox_depth") == runtime.db.outbox_count() >= 3
    assert scrape.value("gateway_node_sessions") == 1
    assert scrape.value("gateway_node_sessions_connected") == 1
    assert scrape.value("gateway_node_draining") == 0
    assert scrape.value("gateway_node_engine_reachable", engine="sandbox") == 1
    assert scrape.value("gateway_node_info", worker_id="node-test", version="9.9") == 1
    assert scrape.value("process_open_fds") > 0
    assert scrape.value("process_resident_memory_bytes") > 0


def test_the_node_reads_the_metrics_variables():
    env = {"BACKEND_AUTH_TOKEN": NODE_TOKEN, "METRICS_TOKEN": TOKEN}
    config = NodeConfig.from_env({**env, "METRICS_ALLOWED_IPS": "10.0.0.0/8,::1"})
    assert config.metrics_token == TOKEN
    assert [str(n) for n in config.metrics_networks] == ["10.0.0.0/8", "::1/128"]
    assert TOKEN not in repr(config)
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_IPS"):
        NodeConfig.from_env({**env, "METRICS_ALLOWED_IPS": "10.0.0.0/33"})
