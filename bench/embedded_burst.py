"""Benchmark of a burst on the embedded default (SQLite, the embedded broker, one node), the
shape `make run` starts: gunicorn, the backend worker with beat, one node agent.

Links a sandbox session, registers a webhook to a receiver on loopback, sends `--messages`
texts from `--concurrency` client threads, and halfway through has a sandbox contact write in.
Reports, as numbers (nothing here passes or fails):

- accepted sends per second, and messages per second from the first accept to the last `sent`;
- webhook deliveries per second (every `message.status` of the burst) while they arrive;
- how long the incoming message's `message.received` took to reach the receiver.

Targets (issue 11, 2 cores): >= 50 messages/s to `sent`, >= 50 webhook deliveries/s, the
incoming message's webhook within 2 s during the burst.
Run: `.venv/bin/python bench/embedded_burst.py --messages 1000 --concurrency 8`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.stack import Api, Stack, base_env, free_port, wait_for  # noqa: E402

# base_env compresses intervals for tests; a benchmark runs what `make run` runs.
DEFAULT_TIMINGS = {
    "SANDBOX_DELIVERY_DELAY_S": "1",
    "SANDBOX_READ_DELAY_S": "2",
    "WORKER_HEARTBEAT_INTERVAL": "30",
    "WORKER_HEALTH_CHECK_INTERVAL": "30",
    "WEBHOOK_SWEEP_INTERVAL_S": "5",
    "WEBHOOK_REQUEUE_AFTER_S": "120",
    "WEBHOOK_RETRY_SCHEDULE_S": "0,5,300,1800,7200,18000",
    "WEBHOOK_TIMEOUT_S": "10",
}


class Receiver(BaseHTTPRequestHandler):
    """Counts webhook deliveries by type; notes when the incoming message arrived."""

    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.arrivals.append((time.monotonic(), body["type"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _ledger_span_s(tmp: Path) -> float:
    """Return the seconds from the first message accepted to the last one sent (the ledger)."""
    with sqlite3.connect(tmp / "data" / "gateway.sqlite3") as db:
        first, last = db.execute(
            "SELECT MIN(created_at), MAX(sent_at) FROM sessions_app_outboundmessage"
        ).fetchone()
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()


def _incoming_stages(tmp: Path) -> tuple[datetime, datetime] | None:
    """Return when the incoming message's event was stored and its first attempt started."""
    with sqlite3.connect(tmp / "data" / "gateway.sqlite3") as db:
        row = db.execute(
            "SELECT e.created_at, MIN(a.started_at) FROM sessions_app_webhookevent e"
            " JOIN sessions_app_webhookdelivery d ON d.event_id = e.id"
            " JOIN sessions_app_webhookattempt a ON a.delivery_id = d.id"
            " WHERE e.type = 'message.received' GROUP BY e.id"
        ).fetchone()
    if not row:
        return None
    stored, attempted = (datetime.fromisoformat(value).replace(tzinfo=UTC) for value in row)
    return stored, attempted


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-embedded-"))
    # The gateway's and the sandbox's own timings, not the tests' compressed ones.
    env = base_env(tmp, LOG_LEVEL="WARNING", **DEFAULT_TIMINGS)
    stack = Stack(tmp=tmp, env=env, base_url=f"http://127.0.0.1:{free_port()}")
    stack.env["BACKEND_URL"] = stack.base_url
    try:
        stack.manage("migrate", "--noinput", "-v0")
        stack.start_web()
        stack.start_backend_worker(concurrency=4)  # as the Procfile, which `make run` starts
        stack.start_node()
        stack.wait_ready()
        api = Api(stack.base_url, stack.create_api_key("bench@example.com"))
        session = api.ok("POST", "/api/v1/sessions", json={"name": "bench", "engine": "sandbox"})
        sid = session["sessionId"]
        api.ok("POST", f"/api/v1/sessions/{sid}/connect", json={"method": "qr"})
        wait_for(
            lambda: api.ok("GET", f"/api/v1/sessions/{sid}/qr")["qrCode"],
            timeout_s=30,
            what="QR",
        )
        api.ok("POST", f"/api/v1/sessions/{sid}/sandbox/scan", json={})
        wait_for(
            lambda: api.ok("GET", f"/api/v1/sessions/{sid}")["status"] == "CONNECTED",
            timeout_s=30,
            what="CONNECTED",
        )
        api.ok(
            "POST",
            "/api/v1/webhooks",
            json={
                "url": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                "eventTypes": ["message.status", "message.received"],
            },
        )
        ids: list[str] = []
        lock = threading.Lock()
        counter = iter(range(args.messages))
        incoming_at: list[float] = []
        incoming_wall: list[datetime] = []

        def sender() -> None:
            client = Api(stack.base_url, api.http.headers["Authorization"].split()[1])
            for n in counter:
                data = client.ok(
                    "POST",
                    "/api/v1/messages",
                    # Ends in 1: a number ending in 99 is "not on WhatsApp" in the sandbox.
                    json={"sessionId": sid, "to": f"+1555{n:06d}1", "text": f"burst {n}"},
                )
                with lock:
                    ids.append(data["messageId"])
                if n == args.messages // 2:
                    incoming_at.append(time.monotonic())
                    incoming_wall.append(datetime.now(UTC))
                    client.ok(
                        "POST",
                        f"/api/v1/sessions/{sid}/sandbox/incoming",
                        json={"from": "+15550009999", "text": "hello during the burst"},
                    )

        started = time.monotonic()
        threads = [threading.Thread(target=sender) for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        accepted_s = time.monotonic() - started

        last_report = [time.monotonic()]

        def statuses_at_least(count: int) -> bool:
            seen = sum(1 for _, kind in Receiver.arrivals if kind == "message.status")
            if time.monotonic() - last_report[0] > 10:
                last_report[0] = time.monotonic()
                print(f"... {seen} status webhooks so far (logs in {tmp})", flush=True)
            return seen >= count

        wait_for(
            lambda: statuses_at_least(args.messages),
            timeout_s=600,
            what="a sent webhook per message",
            interval_s=0.2,
        )
        sent_s = _ledger_span_s(tmp)
        # Each message reports sent, delivered and read: three deliveries each.
        wait_for(
            lambda: statuses_at_least(3 * args.messages),
            timeout_s=600,
            what="every status webhook",
            interval_s=0.2,
        )
        statuses = [t for t, k in Receiver.arrivals if k == "message.status"]
        received = [t for t, k in Receiver.arrivals if k == "message.received"]
        span = max(statuses) - min(statuses)
        print(f"accepted: {args.messages / accepted_s:.0f} sends/s ({accepted_s:.1f} s)")
        print(f"first accept -> last `sent` (ledger): {args.messages / sent_s:.0f} messages/s")
        print(f"webhook deliveries: {len(statuses) / span:.0f}/s ({len(statuses)} in {span:.1f} s)")
        if received and incoming_at:
            print(f"incoming message's webhook after {received[0] - incoming_at[0]:.2f} s")
            stages = _incoming_stages(tmp)
            if stages:
                stored, attempted = stages
                print(
                    f"  its event stored after {(stored - incoming_wall[0]).total_seconds():.2f} s,"
                    f" first attempt after {(attempted - incoming_wall[0]).total_seconds():.2f} s"
                )
        else:
            print("incoming message's webhook: not received")
    finally:
        stack.stop_all()
        receiver.shutdown()


if __name__ == "__main__":
    main()
