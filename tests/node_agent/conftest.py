"""The node agent tests' fixtures (defined in fixtures.py, which tests/e2e shares) and the skip
of `live` tests."""

from __future__ import annotations

import os

import pytest

from tests.node_agent.fixtures import (  # noqa: F401 (pytest finds fixtures by name here)
    backend,
    make_config,
    make_runtime,
    make_wa_runtime,
    node,
    runtime,
    session_store_database,
    session_store_url,
    shared,
    started_runtimes,
)


def pytest_collection_modifyitems(config, items):
    """Skip `live` tests (real phone, real WhatsApp) unless WHATSAPP_LIVE=1."""
    if os.environ.get("WHATSAPP_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="needs a real phone: set WHATSAPP_LIVE=1 (README)")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)
