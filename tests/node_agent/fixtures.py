"""Fixtures of the node agent tests: a fake backend on loopback, configs and runtimes in tmp
dirs, shared session stores in a database of this run's own.

Both tests/node_agent/conftest.py and tests/e2e/conftest.py import them from here (the node
process tests in tests/e2e use the fake backend and the session store).
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from node_agent.config import NodeConfig
from node_agent.runtime import NodeRuntime
from node_agent.session_store import SharedSessionStore
from tests.node_agent.node_helpers import TOKEN, FakeBackend

SHARED_TABLES = ("gateway_node_meta", "gateway_node_credentials", "gateway_node_sends")


def _database_url(name):
    """Return DATABASE_URL (the test run's PostgreSQL) pointed at database `name`."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    return urlunsplit(urlsplit(base)._replace(path="/" + name))


@pytest.fixture(scope="session")
def session_store_database():
    """Create this run's own database for shared session stores; drop it at the end.

    Named per instance (each conftest that imports this fixture gets its own).
    """
    admin_url = _database_url("postgres")
    name = f"test_nodestore_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield _database_url(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def session_store_url(session_store_database):
    """The URL of an empty shared session store (its tables, if made yet, are emptied)."""
    with psycopg.connect(session_store_database, autocommit=True) as conn:
        for table in SHARED_TABLES:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]:
                conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    return session_store_database


@pytest.fixture
def shared(session_store_url):
    """A SharedSessionStore on the empty store of `session_store_url`."""
    store = SharedSessionStore(session_store_url)
    yield store
    store.close()


@pytest.fixture
def node(make_runtime, tmp_path, session_store_url):
    """Start a node `worker_id` with its own SQLite, on the shared store and sandbox network."""

    def build(worker_id, **overrides):
        overrides.setdefault("session_store_url", session_store_url)
        return make_runtime(
            worker_id=worker_id, node_db_path=str(tmp_path / f"{worker_id}.sqlite3"), **overrides
        )

    return build


@pytest.fixture
def backend():
    server = FakeBackend()
    yield server
    server.close()


@pytest.fixture
def make_config(tmp_path, backend):
    """Build a NodeConfig in `tmp_path` with short sandbox timings; overrides by field name."""

    def build(**overrides):
        values = {
            "backend_auth_token": TOKEN,
            "worker_id": "node-test",
            "worker_port": 0,
            "backend_url": backend.url,
            "celery_broker_folder": str(tmp_path / "broker"),
            "node_db_path": str(tmp_path / "node.sqlite3"),
            "session_storage_path": str(tmp_path / "sessions"),
            "media_storage_path": str(tmp_path / "media"),
            "sandbox_network_path": str(tmp_path / "network.sqlite3"),
            "heartbeat_interval_s": 0.05,
            "sandbox_qr_first_ttl_s": 30.0,
            "sandbox_qr_ttl_s": 30.0,
            "sandbox_connect_delay_s": 0.02,
            "sandbox_delivery_delay_s": 0.05,
            "sandbox_read_delay_s": 0.1,
            "sandbox_reconnect_delay_s": 0.05,
            "whatsapp_reachability_s": 0.0,  # no test dials WhatsApp unless it says so
            "send_retry_min_s": 0.01,
            "send_retry_max_s": 0.05,
        }
        values.update(overrides)
        return NodeConfig(**values)

    return build


@pytest.fixture
def started_runtimes():
    """The runtimes a test started through make_runtime or make_wa_runtime; shut down after."""
    runtimes = []
    yield runtimes
    for runtime in runtimes:
        runtime.shutdown(flush_timeout_s=0)


@pytest.fixture
def make_runtime(make_config, started_runtimes):
    """Start NodeRuntimes (shut down at teardown); `make_runtime(config=None, **overrides)`."""

    def build(config=None, **overrides):
        runtime = NodeRuntime(config or make_config(**overrides))
        runtime.start()
        started_runtimes.append(runtime)
        return runtime

    return build


@pytest.fixture
def runtime(make_runtime):
    return make_runtime()


@pytest.fixture
def make_wa_runtime(make_config, started_runtimes):
    """Start NodeRuntimes whose `whatsapp` engine is real; `make_wa_runtime(connect, **overrides)`.

    `connect=False` never calls neonize's connect(): tests feed events to the session's client.
    neonize is imported only by tests that use this fixture.
    """
    from node_agent.engines.whatsapp import WhatsAppEngine

    def build(connect=False, config=None, **overrides):
        config = config or make_config(**overrides)
        runtime = NodeRuntime(config)
        runtime.engines["whatsapp"] = WhatsAppEngine(config, runtime.on_event, connect=connect)
        runtime.start()
        started_runtimes.append(runtime)
        return runtime

    return build
