"""CPU a node agent (and gunicorn) spends per sandbox message, on the production shape.

Starts gunicorn (4 workers x 4 threads, as compare.sh), the backend Celery worker and one node
agent on PostgreSQL + Redis, links one sandbox session of an ENTERPRISE (unpaced) user, then per
round sends `--messages` texts from `--concurrency` HTTP clients and waits until every message is
`read` and the node's outbox is empty. CPU is read from /proc/<pid>/stat (utime, stime; all of a
process's threads) before and after each round: the node process, and gunicorn's master and
workers together. Also prints the node's idle CPU (ms/s), measured before the first round.

Numbers, not a test. `.venv/bin/python bench/node_cpu.py --messages 2000 --rounds 3`
Uses ports --web-port and --node-port (8801, 8802), database --db (nodecpu), Redis db 10.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.stack import BIN, Api, Stack, base_env, wait_for  # noqa: E402

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> tuple[float, float]:
    """Return (user, system) CPU seconds of process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) * TICK_S, int(fields[12]) * TICK_S


def group_cpu_s(pgid: int) -> tuple[float, float]:
    """Return (user, system) CPU seconds of every live process in process group `pgid`."""
    user = system = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pgid:
                continue
            u, s = cpu_s(int(entry))
        except (OSError, ValueError):
            continue
        user, system = user + u, system + s
    return user, system


def start(stack: Stack, web_port: int, node_port: int) -> None:
    stack.spawn(
        "web",
        [
            str(BIN / "gunicorn"),
            "gateway.wsgi",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "4",
            "--threads",
            "4",
        ],
    )
    stack.spawn(
        "backend",
        [
            str(BIN / "celery"),
            "-A",
            "gateway",
            "worker",
            "--beat",
            "-Q",
            "default,webhooks,webhooks.status",
            "-P",
            "threads",
            "-c",
            "4",
            "--loglevel",
            "WARNING",
        ],
    )
    stack.start_node("node-cpu", WORKER_PORT=str(node_port))
    stack.wait_ready()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", default="nodecpu")
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument("--web-port", type=int, default=8801)
    parser.add_argument("--node-port", type=int, default=8802)
    args = parser.parse_args()

    pg = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *pg, "--if-exists", args.db], check=True)
    subprocess.run(["createdb", *pg, args.db], check=True)
    subprocess.run(
        ["redis-cli", "-n", str(args.redis_db), "flushdb"], check=True, stdout=subprocess.DEVNULL
    )
    dsn = f"postgresql://postgres@127.0.0.1:5432/{args.db}"
    tmp = Path(tempfile.mkdtemp(prefix="nodecpu-"))
    env = base_env(
        tmp,
        DATABASE_URL=dsn.replace("postgresql", "postgres", 1),
        REDIS_URL=f"redis://127.0.0.1:6379/{args.redis_db}",
        CELERY_BROKER_KEY_PREFIX=f"nodecpu-{time.time_ns()}:",
        LOG_LEVEL="WARNING",
        WORKER_MAX_SESSIONS="50",
    )
    stack = Stack(tmp=tmp, env=env, base_url=f"http://127.0.0.1:{args.web_port}")
    env["BACKEND_URL"] = stack.base_url
    try:
        stack.manage("migrate", "--noinput", "-v0")
        start(stack, args.web_port, args.node_port)
        key = stack.create_api_key("nodecpu@example.com")
        sid = Api(stack.base_url, key).link_sandbox("nodecpu")
        node_pid, web_pgid = stack.procs["node:node-cpu"].pid, stack.procs["web"].pid
        health = f"http://127.0.0.1:{args.node_port}/health"

        time.sleep(3)
        u0, s0 = cpu_s(node_pid)
        time.sleep(5)
        u1, s1 = cpu_s(node_pid)
        print(f"node idle: {(u1 - u0) / 5 * 1000:.1f} ms/s user, {(s1 - s0) / 5 * 1000:.1f} sys")
        print("round  msgs  secs | node ms/msg user sys total | gunicorn ms/msg user sys total")
        sent_total = 0
        with psycopg.connect(dsn, autocommit=True) as conn:

            def count_read() -> int:
                row = conn.execute(
                    "SELECT count(*) FROM sessions_app_outboundmessage WHERE status = 'read'"
                ).fetchone()
                return int(row[0]) if row else 0

            for r in range(1, args.rounds + 1):
                counter = iter(range(args.messages))

                def client(counter: Iterator[int] = counter) -> None:
                    api = Api(stack.base_url, key)
                    for n in counter:
                        status, body = api.call(
                            "POST",
                            "/api/v1/messages",
                            json={"sessionId": sid, "to": f"+1555{n:06d}1", "text": f"cpu {n}"},
                        )
                        assert status == 202, body

                nu0, ns0 = cpu_s(node_pid)
                wu0, ws0 = group_cpu_s(web_pgid)
                started = time.monotonic()
                threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                sent_total += args.messages
                wait_for(
                    lambda total=sent_total: count_read() >= total
                    and requests.get(health, timeout=2).json()["outboxPending"] == 0,
                    timeout_s=900,
                    what="all read",
                    interval_s=0.25,
                )
                took = time.monotonic() - started
                nu1, ns1 = cpu_s(node_pid)
                wu1, ws1 = group_cpu_s(web_pgid)
                n = args.messages
                nu, ns = (nu1 - nu0) / n * 1000, (ns1 - ns0) / n * 1000
                wu, ws = (wu1 - wu0) / n * 1000, (ws1 - ws0) / n * 1000
                print(
                    f"{r:5d} {n:5d} {took:5.1f} | {nu:6.2f} {ns:5.2f} {nu + ns:6.2f}"
                    f" | {wu:6.2f} {ws:5.2f} {wu + ws:6.2f}",
                    flush=True,
                )
    except Exception:
        print(stack.log_tails(), file=sys.stderr)
        raise
    finally:
        stack.stop_all()


if __name__ == "__main__":
    main()
