"""The node agent's fixtures, for tests here that scrape a node beside the web process."""

from __future__ import annotations

from tests.node_agent.fixtures import (  # noqa: F401 (pytest finds fixtures by name here)
    backend,
    make_config,
    make_runtime,
    runtime,
    started_runtimes,
)
