"""A cluster for the orchestration tests: PostgreSQL, a private Redis, web, backend, two nodes.

The nodes share a PostgreSQL session store (their own database, made and dropped here) and the
sandbox network, so a session can move between them without a new scan. Redis is a process of
the test's own on a free port, so a test may kill and restart it without touching anything else.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import psycopg
import pytest

from tests.conftest import stack_running
from tests.e2e.stack import Api, Stack, base_env, free_port

# The node process tests (test_node_process.py) run a node against the node tests' fake backend.
from tests.node_agent.fixtures import (  # noqa: F401 (pytest finds fixtures by name here)
    backend,
    session_store_database,
    session_store_url,
)

# Short enough for tests, the same logic as production: a node is OFFLINE ~3-4 s after it dies.
CLUSTER_ENV = {
    "WORKER_HEARTBEAT_INTERVAL": "1",
    "WORKER_HEALTH_CHECK_INTERVAL": "1",
    "MESSAGE_REQUEUE_AFTER_S": "10",
    "MESSAGE_SWEEP_INTERVAL_S": "2",
    "SESSION_SWEEP_INTERVAL_S": "2",
    "SESSION_START_TIMEOUT_S": "30",
}


class Cluster:
    """A running cluster: `stack` (processes), `api` (a user's key), `operator` (a staff key)."""

    def __init__(self, stack: Stack, redis_port: int, store_url: str) -> None:
        self.stack = stack
        self.redis_port = redis_port
        self.store_url = store_url
        self.api: Api | None = None
        self.operator: Api | None = None

    def start_node(self, worker_id: str, **extra_env: str) -> None:
        self.stack.start_node(worker_id, SESSION_STORE_URL=self.store_url, **extra_env)

    def workers(self) -> dict[str, dict[str, Any]]:
        """Return the operator's view of the nodes, by id."""
        return {w["workerId"]: w for w in self.operator.ok("GET", "/api/admin/workers")}


def _keys(email: str, *, staff: bool = False) -> str:
    from accounts.services import api_key_create, user_create

    user = user_create(email=email, password=uuid.uuid4().hex)
    user.plan_id = "ENTERPRISE"  # the cluster tests measure the platform, not a plan's limits
    user.is_staff = staff
    user.save(update_fields=["plan", "is_staff"])
    return api_key_create(owner=user, name="e2e").secret


@pytest.fixture
def make_cluster(transactional_db: Any, tmp_path: Any, request: Any) -> Any:
    """Return `start(nodes={workerId: {ENV: value}}, **backend_env) -> Cluster`.

    Web (gunicorn), the backend worker with beat and the nodes run on the test database and a
    private Redis; every process is stopped and the store database dropped when the test ends.
    """
    from django.db import connection

    db = connection.settings_dict
    server = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}"
    store_db = f"test_nodestore_e2e_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(f"{server}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{store_db}"')
    redis_port = free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = base_env(
        tmp_path,
        DATABASE_URL=f"{server}/{db['NAME']}",
        REDIS_URL=redis_url,
        **CLUSTER_ENV,
    )
    stack = Stack(tmp=tmp_path, env=env, base_url=f"http://127.0.0.1:{free_port()}")
    env["BACKEND_URL"] = stack.base_url
    cluster = Cluster(stack, redis_port, f"{server}/{store_db}")

    def start(nodes: dict[str, dict[str, str]], **backend_env: str) -> Cluster:
        env.update(backend_env)
        stack.start_redis(redis_port)
        stack.start_web()
        stack.start_backend_worker()
        for worker_id, node_env in nodes.items():
            cluster.start_node(worker_id, **node_env)
        stack.wait_ready(nodes=len(nodes))
        cluster.api = Api(stack.base_url, _keys(f"user-{uuid.uuid4().hex[:6]}@example.com"))
        cluster.operator = Api(
            stack.base_url, _keys(f"ops-{uuid.uuid4().hex[:6]}@example.com", staff=True)
        )
        return cluster

    try:
        with stack_running(stack, request):
            yield start
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{store_db}" WITH (FORCE)')
        admin.close()
