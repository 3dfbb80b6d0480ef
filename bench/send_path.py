"""Benchmark of the send path on the production shape: gunicorn + PostgreSQL + Redis + one node.

Starts the real processes (as the end-to-end tests do) on a scratch database, links a sandbox
session, then sends `--messages` texts from `--concurrency` client threads and reports:

- accepted sends per second and the latency of `POST /api/v1/messages` (p50/p95/p99, ms);
- how long until every message was reported `sent` by the node, and `read`.

Numbers, not a test: nothing here passes or fails. Run with `make bench` or
`.venv/bin/python bench/send_path.py --messages 2000 --concurrency 16`.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import production_stack  # noqa: E402
from tests.e2e.stack import Api, wait_for  # noqa: E402

DB_NAME = "bench_gateway"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    # `timeout` or Ctrl-C: unwind through `finally`, so the started processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=11)
    args = parser.parse_args()

    with production_stack(
        DB_NAME, redis_db=args.redis_db, WEB_CONCURRENCY=str(args.web_workers)
    ) as stack:
        api = Api(stack.base_url, stack.create_api_key("bench@example.com"))
        sid = api.link_sandbox("bench")

        latencies: list[float] = []
        ids: list[str] = []
        lock = threading.Lock()
        counter = iter(range(args.messages))

        def client() -> None:
            own = Api(stack.base_url, api.http.headers["Authorization"].split(" ", 1)[1])
            for n in counter:
                started = time.perf_counter()
                status, body = own.call(
                    "POST",
                    "/api/v1/messages",
                    # …1 never ends in 99, the sandbox's "not on WhatsApp" number.
                    json={"sessionId": sid, "to": f"+1555{n:06d}1", "text": f"bench {n}"},
                )
                elapsed = time.perf_counter() - started
                assert status == 202, body
                with lock:
                    latencies.append(elapsed)
                    ids.append(body["data"]["messageId"])

        threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        accept_s = time.perf_counter() - started

        def count(status: str) -> int:
            out = stack.manage(
                "shell",
                "-c",
                "from sessions_app.messages.models import OutboundMessage as M; "
                f"print(M.objects.filter(status__in={status!r}.split(',')).count())",
            )
            return int(out.strip().splitlines()[-1])

        wait_for(
            lambda: count("sent,delivered,read") == args.messages,
            timeout_s=600,
            what="all sent",
            interval_s=0.5,
        )
        sent_s = time.perf_counter() - started
        wait_for(
            lambda: count("read") == args.messages, timeout_s=600, what="all read", interval_s=0.5
        )
        read_s = time.perf_counter() - started

    ms = [x * 1000 for x in latencies]
    print(
        f"messages            {args.messages} (concurrency {args.concurrency}, "
        f"{args.web_workers} gunicorn workers x 4 threads)"
    )
    print(f"accepted            {args.messages / accept_s:8.1f} msg/s  ({accept_s:.2f} s)")
    print(
        f"POST latency ms     p50 {percentile(ms, 0.5):.1f}  p95 {percentile(ms, 0.95):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  mean {statistics.mean(ms):.1f}"
    )
    print(f"all sent after      {sent_s:8.2f} s  ({args.messages / sent_s:.1f} msg/s end to end)")
    print(f"all read after      {read_s:8.2f} s")


if __name__ == "__main__":
    main()
