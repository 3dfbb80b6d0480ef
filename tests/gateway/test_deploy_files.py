"""deploy/ names only series we export: every series the Grafana dashboard and the alert rules
query is in a real scrape of the web process, the backend worker or a node agent (of the process
kind the selector's `job` names, when it names one)."""

from __future__ import annotations

import pytest
import yaml

from gateway.metrics import MetricsServer
from node_agent.health import HealthServer
from tests.deploy_files import ALERTS, SCRAPE_CONFIG, queried, scrape_jobs, series_of
from tests.metrics_scrape import Scrape
from tests.node_agent.test_node_metrics import node_metrics

TOKEN = "deploy-files-token-77aa"


def test_the_expression_reader_finds_series_and_their_jobs():
    expr = (
        'sum by (le, job) (rate(a_bucket{job="gateway-web", x=~"y|z"}[$__rate_interval])) '
        '/ on (instance) group_left(version) b_info > bool 0.5 and c offset 5m or "d"'
    )
    assert series_of(expr) == {("a_bucket", "gateway-web"), ("b_info", None), ("c", None)}
    assert series_of("histogram_quantile(0.95, sum(rate(x_bucket[5m])) by (le))") == {
        ("x_bucket", None)
    }


def test_the_scrape_config_loads_the_rules_and_has_each_process_kind():
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    assert config["rule_files"] == [ALERTS.name]
    assert scrape_jobs() == {"gateway-web", "gateway-worker", "gateway-node"}
    for job in config["scrape_configs"]:
        assert job["authorization"]["type"] == "Bearer"


@pytest.fixture
def scrapes(live_server, settings, runtime):
    """A scrape of each process kind, by its job name in deploy/prometheus/prometheus.yml."""
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    worker = MetricsServer("127.0.0.1", 0, token=TOKEN, networks=[]).start()
    node = HealthServer("127.0.0.1", 0, runtime.health, node_metrics(runtime, token=TOKEN))
    node.start()
    try:
        yield {
            "gateway-web": Scrape.of(f"{live_server.url}/metrics", TOKEN),
            "gateway-worker": Scrape.of(f"http://127.0.0.1:{worker.port}/metrics", TOKEN),
            "gateway-node": Scrape.of(f"http://127.0.0.1:{node.port}/metrics", TOKEN),
        }
    finally:
        worker.stop()
        node.stop()


def test_every_series_the_dashboard_and_the_alerts_query_is_exported(scrapes):
    assert set(scrapes) == scrape_jobs()
    wanted = queried()
    assert len(wanted) >= 15, wanted
    everywhere = set().union(*(scrape.names() for scrape in scrapes.values()))
    missing = {
        (name, job)
        for name, job in wanted
        if name not in (scrapes[job].names() if job else everywhere)
    }
    assert not missing, f"deploy/ queries series no process exports: {sorted(missing, key=str)}"
