"""The production shape for benchmarks: gunicorn + PostgreSQL + Redis + the backend worker +
one node, on a scratch database, as the end-to-end tests start it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.stack import Stack, base_env, free_port  # noqa: E402


@contextlib.contextmanager
def production_stack(db_name: str, *, redis_db: int, **env: str) -> Iterator[Stack]:
    """Start the processes on a fresh database `db_name` and Redis db `redis_db`; `env` adds
    variables. Stops every process afterwards."""
    pg = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *pg, "--if-exists", db_name], check=True)
    subprocess.run(["createdb", *pg, db_name], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    variables = base_env(
        tmp,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}",
        REDIS_URL=f"redis://127.0.0.1:6379/{redis_db}",
        CELERY_BROKER_KEY_PREFIX=os.environ.get("BENCH_KEY_PREFIX", f"bench-{time.time_ns()}:"),
        LOG_LEVEL="WARNING",
        **env,
    )
    stack = Stack(tmp=tmp, env=variables, base_url=f"http://127.0.0.1:{free_port()}")
    variables["BACKEND_URL"] = stack.base_url
    try:
        stack.manage("migrate", "--noinput", "-v0")
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()


@contextlib.contextmanager
def embedded_stack(prefix: str, **env: str) -> Iterator[Stack]:
    """Start `make run`'s shape (SQLite, the embedded broker, one node; the backend worker with
    four threads) in a scratch folder named after `prefix`; `env` adds variables. Stops every
    process afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    stack = Stack(tmp=tmp, env=base_env(tmp, LOG_LEVEL="WARNING", **env), base_url="")
    stack.base_url = f"http://127.0.0.1:{free_port()}"
    stack.env["BACKEND_URL"] = stack.base_url
    try:
        stack.manage("migrate", "--noinput", "-v0")
        stack.start_web()
        stack.start_backend_worker(concurrency=4)
        stack.start_node()
        stack.wait_ready()
        yield stack
    finally:
        stack.stop_all()
