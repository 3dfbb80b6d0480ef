"""Fairness benchmark, flood plus one, on the production shape (gunicorn + PostgreSQL + Redis +
one node): tenant A floods one session while tenant B sends one message now and then.

A is ENTERPRISE (unpaced: its flood loads the node as hard as the gateway accepts it); B is
BASIC and sends within its plan's pace (1 message/s, burst 5: `--interval` 1.1 s), so what delays
B is A's load, not B's own lane waiting for its tokens. Reports B's accept→`sent` (the node's
`sentAt` minus `createdAt`, p50/p99/max, s) while A's backlog drains, and A's accepted count and
drain time. Numbers, not a test.
`.venv/bin/python bench/fairness.py --flood 2000 --samples 20`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.send_path import percentile  # noqa: E402
from bench.stack import production_stack  # noqa: E402
from tests.e2e.stack import Api, wait_for  # noqa: E402

DB_NAME = "bench_fairness"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _seconds(message: dict) -> float:
    return (_at(message["sentAt"]) - _at(message["createdAt"])).total_seconds()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.1, help="s between B's sends")
    parser.add_argument("--redis-db", type=int, default=11)
    args = parser.parse_args()
    with production_stack(DB_NAME, redis_db=args.redis_db) as stack:
        flood = Api(stack.base_url, stack.create_api_key("a@example.com", plan="ENTERPRISE"))
        quiet = Api(stack.base_url, stack.create_api_key("b@example.com", plan="BASIC"))
        flood_sid, quiet_sid = flood.link_sandbox("A"), quiet.link_sandbox("B")
        counter = iter(range(args.flood))
        accepted: list[str] = []
        refused: Counter[str] = Counter()

        def client() -> None:
            own = Api(stack.base_url, flood.http.headers["Authorization"].split(" ", 1)[1])
            for n in counter:
                body = {"sessionId": flood_sid, "to": f"+1555{n % 50:06d}1", "text": f"a{n}"}
                status, answer = own.call("POST", "/api/v1/messages", json=body)
                if status == 202:
                    accepted.append(answer["data"]["messageId"])
                else:
                    refused[f"{status} {answer.get('error', {}).get('code')}"] += 1

        started = time.monotonic()
        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        quiet_ids = []
        for n in range(args.samples):
            time.sleep(args.interval)
            body = {"sessionId": quiet_sid, "to": f"+1666{n:06d}1", "text": f"b{n}"}
            quiet_ids.append(quiet.ok("POST", "/api/v1/messages", json=body)["messageId"])
        for thread in clients:
            thread.join()
        wait_for(
            lambda: all(quiet.ok("GET", f"/api/v1/messages/{m}")["sentAt"] for m in quiet_ids),
            timeout_s=120,
            what="B's messages sent",
        )
        waits = [_seconds(quiet.ok("GET", f"/api/v1/messages/{m}")) for m in quiet_ids]
        wait_for(
            lambda: flood.ok("GET", f"/api/v1/messages/{accepted[-1]}")["sentAt"],
            timeout_s=600,
            what="A's backlog drained",
        )
        drained = time.monotonic() - started
    print(
        f"A: {len(accepted)} accepted ({dict(refused) or 'none refused'}), "
        f"drained in {drained:.1f} s"
    )
    print(
        f"B ({len(waits)} sends during A's flood) accept->sent s p50/p99/max: "
        f"{percentile(waits, 0.5):.2f} / {percentile(waits, 0.99):.2f} / {max(waits):.2f}"
    )


if __name__ == "__main__":
    main()
