"""Shared fixtures: users, keys, nodes, an API client, and a reader of the real broker's queues."""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import os
import uuid
from typing import Any

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.factories import UserFactory, WorkerFactory

WORKER_TOKEN = "test-node-token-0123456789"


E2E_DIR = os.path.join(os.path.dirname(__file__), "e2e")


def pytest_configure(config: Any) -> None:
    settings.PASSWORD_HASHERS = ["tests.hashers.FewIterationsPBKDF2"]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Mark every test under tests/e2e/ `e2e`, so `-m "not e2e"` leaves out all that start
    real processes (and only those: every such test lives there)."""
    for item in items:
        if str(item.path).startswith(E2E_DIR + os.sep):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Give each test run its own PostgreSQL database, so concurrent runs never collide."""
    from django.conf import settings as django_settings

    db = django_settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        db.setdefault("TEST", {})["NAME"] = f"test_{db['NAME']}_{os.getpid()}"


@pytest.fixture(autouse=True)
def _node_token(settings: Any) -> None:
    settings.WORKER_AUTH_TOKEN = WORKER_TOKEN


@pytest.fixture(autouse=True)
def _plans(request: Any, settings: Any) -> None:
    """Keep the seeded plans: a test with `transaction=True` flushes what migrations wrote.

    Rate-limit counters get a prefix of their own per test, so no count leaks between tests.
    """
    settings.RATELIMIT_KEY_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    uses_db = {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    if not uses_db and request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("_django_db_helper")
    plans = importlib.import_module("billing.migrations.0003_plans")
    from billing.models import Plan

    for values in plans.SEED_PLANS:
        Plan.objects.get_or_create(tier=values["tier"], defaults=values)


@pytest.fixture
def user(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def unlimited(user: Any) -> Any:
    """`user` on the ENTERPRISE plan (no limits), for tests of more than a BASIC plan holds."""
    user.plan_id = "ENTERPRISE"
    user.save(update_fields=["plan"])
    return user


@pytest.fixture
def other_user(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def api_key(user: Any) -> Any:
    return api_key_create(owner=user, name="test")


@pytest.fixture
def api(api_key: Any) -> APIClient:
    """An API client authenticated with the user's key (Bearer)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
    return client


@pytest.fixture
def node_api() -> APIClient:
    """An API client authenticated as a node agent."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {WORKER_TOKEN}")
    return client


@pytest.fixture
def worker(db: Any) -> Any:
    return WorkerFactory()


class BrokerQueues:
    """Reads what the backend published to node queues on the real Redis broker."""

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url)

    def clear(self, queue: str) -> None:
        self.redis.delete(queue)

    def drain(self, queue: str) -> list[dict[str, Any]]:
        """Pop every task message in `queue`: [{"task", "kwargs"}, plus "args" if any], oldest
        first."""
        tasks = []
        while raw := self.redis.rpop(queue):
            envelope = json.loads(raw)
            body = json.loads(base64.b64decode(envelope["body"]))
            args, kwargs, _embed = body
            task = {"task": envelope["headers"]["task"], "kwargs": kwargs}
            tasks.append({**task, "args": args} if args else task)
        return tasks


@pytest.fixture
def broker(worker: Any) -> BrokerQueues:
    """The Redis broker's node queues, emptied for this test's node before and after."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs the Redis broker (REDIS_URL)")
    queues = BrokerQueues(settings.CELERY_BROKER_URL)
    queues.clear(worker.endpoint)
    yield queues
    queues.clear(worker.endpoint)


# --- End-to-end stacks (real processes) -----------------------------------------------------

E2E_REDIS_DB = 14


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@contextlib.contextmanager
def stack_running(stack: Any, request: Any) -> Any:
    """Stop every process of `stack` at the end; print their logs if starting or the test failed.

    A stack fixture starts its processes and yields inside this block.
    """
    try:
        yield stack
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print("\n" + stack.log_tails())
    except BaseException:
        print("\n" + stack.log_tails())
        raise
    finally:
        stack.stop_all()


@pytest.fixture
def gateway_stack(transactional_db: Any, tmp_path: Any, request: Any) -> Any:
    """The production shape: PostgreSQL (the test database), Redis broker and cache, gunicorn,
    the backend worker with beat and one node agent. Yields a `tests.e2e.stack.Stack`.

    Data the test writes through the ORM is committed, so the processes see it.
    """
    from django.db import connection

    from accounts.services import user_create
    from tests.e2e.stack import Stack, base_env, free_port

    db = connection.settings_dict
    redis_url = f"redis://127.0.0.1:6379/{E2E_REDIS_DB}"
    prefix = f"e2e-{uuid.uuid4().hex[:8]}:"
    env = base_env(
        tmp_path,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=redis_url,
        CELERY_BROKER_KEY_PREFIX=prefix,
        CACHE_KEY_PREFIX=prefix,
    )
    stack = Stack(tmp=tmp_path, env=env, base_url=f"http://127.0.0.1:{free_port()}")
    env["BACKEND_URL"] = stack.base_url
    stack.create_user = lambda email, password: user_create(email=email, password=password)
    try:
        with stack_running(stack, request):
            stack.start_all()
            yield stack
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}*")) + list(client.scan_iter(f"*:{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def embedded_stack(tmp_path: Any, request: Any) -> Any:
    """The embedded default: SQLite, the filesystem broker, a file cache; nothing else running."""
    from tests.e2e.stack import Stack, base_env, free_port

    stack = Stack(tmp=tmp_path, env=base_env(tmp_path), base_url=f"http://127.0.0.1:{free_port()}")
    stack.env["BACKEND_URL"] = stack.base_url
    with stack_running(stack, request):
        stack.manage("migrate", "--noinput", "-v0")
        stack.start_all()
        yield stack


@pytest.fixture
def logged_in(client: Any, user: Any) -> Any:
    """Django's test client, logged in as `user` (password: tests.factories.PASSWORD)."""
    client.force_login(user)
    return client
