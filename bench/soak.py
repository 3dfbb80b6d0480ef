"""Soak run of `make run`: the embedded default under steady traffic for `--minutes` (30).

Starts the gateway the way `make run` does (`manage.py supervise` with the Procfile: web,
backend worker with beat, one node agent, restarted if one dies) in a scratch folder, links
`--sessions` sandbox sessions, and keeps one more session waiting for a scan so its QR code
rotates (connected again whenever it gives up). Then, until the time is up: `--rate` sends a
second spread over the sessions, an incoming message every `--incoming-every` seconds, every
event to a webhook receiver on loopback. Afterwards it waits for the traffic to settle and
reports, as numbers:

- accepted sends/s, sent/s and webhook deliveries/s over the run;
- the incoming messages' webhook latency (p50, p95, max);
- QR rotations seen by the webhook (`session.qr`);
- process exits (the supervisor's `process.exited` entries in the System log): must be 0;
- messages lost (accepted but never `read`, incoming ones whose webhook never came, and
  webhooks that never arrived): must be 0;
- each process's resident memory at the start and the end.

The report is printed and written to `--out` (bench/soak-last-run.txt).
Run: `.venv/bin/python bench/soak.py --minutes 30`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.embedded_burst import DEFAULT_TIMINGS  # noqa: E402
from tests.e2e.stack import BIN, Api, Stack, base_env, free_port, wait_for  # noqa: E402


class Receiver(BaseHTTPRequestHandler):
    """Keeps every webhook's event id and type, and when each incoming text arrived."""

    seen: dict[str, str] = {}
    duplicates = 0
    incoming: dict[str, float] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            if body["id"] in Receiver.seen:
                Receiver.duplicates += 1
            Receiver.seen[body["id"]] = body["type"]
            if body["type"] == "message.received":
                Receiver.incoming[body["data"]["message"].get("text", "")] = time.monotonic()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _db(tmp: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{tmp / 'data' / 'gateway.sqlite3'}?mode=ro", uri=True)


def _statuses(tmp: Path) -> Counter[str]:
    with _db(tmp) as db:
        return Counter(
            dict(db.execute("SELECT status, COUNT(*) FROM sessions_app_outboundmessage GROUP BY 1"))
        )


def _exits(tmp: Path) -> list[str]:
    with _db(tmp) as db:
        return [
            row[0]
            for row in db.execute(
                "SELECT message FROM gateway_systemlog WHERE event = 'process.exited'"
            )
        ]


def _memory(stack: Stack) -> dict[str, float]:
    """Resident MB of each supervised process with what it forked, by Procfile name."""
    started = re.findall(r"(\w+) started \(pid=(\d+)\)", stack.logs["run"].read_text())
    sizes: dict[str, float] = {}
    for name, pid in dict(started).items():  # the last start of each
        try:
            process = psutil.Process(int(pid))
            family = [process, *process.children(recursive=True)]
            sizes[name] = round(sum(p.memory_info().rss for p in family) / 2**20, 1)
        except psutil.Error:
            sizes[name] = 0.0
    return sizes


def _link(api: Api, sid: str) -> None:
    api.ok("POST", f"/api/v1/sessions/{sid}/connect", json={"method": "qr"})
    wait_for(lambda: api.ok("GET", f"/api/v1/sessions/{sid}/qr")["qrCode"], timeout_s=60, what="QR")
    api.ok("POST", f"/api/v1/sessions/{sid}/sandbox/scan", json={})
    wait_for(
        lambda: api.ok("GET", f"/api/v1/sessions/{sid}")["status"] == "CONNECTED",
        timeout_s=60,
        what="CONNECTED",
    )


def main() -> None:  # noqa: PLR0915 (one script, read top to bottom)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10, help="sends per second")
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--incoming-every", type=float, default=5.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "soak-last-run.txt"))
    args = parser.parse_args()

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    port = free_port()
    env = base_env(
        tmp,
        LOG_LEVEL="WARNING",
        ENV_FILE="",  # this run's settings only, never the checkout's .env
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        BACKEND_URL=f"http://127.0.0.1:{port}",
        WORKER_PORT=str(free_port()),
        SANDBOX_QR_FIRST_TTL_S="60",
        SANDBOX_QR_TTL_S="20",
        **DEFAULT_TIMINGS,
    )
    stack = Stack(tmp=tmp, env=env, base_url=f"http://127.0.0.1:{port}")
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    try:
        stack.manage("migrate", "--noinput", "-v0")
        stack.spawn("run", [str(BIN / "python"), "manage.py", "supervise", "--port", str(port)])
        stack.wait_ready(timeout_s=120)
        api = Api(stack.base_url, stack.create_api_key("soak@example.com"))
        sids = []
        for n in range(args.sessions):
            sid = api.ok("POST", "/api/v1/sessions", json={"name": f"s{n}", "engine": "sandbox"})
            sids.append(sid["sessionId"])
            _link(api, sids[-1])
        waiting = api.ok("POST", "/api/v1/sessions", json={"name": "qr", "engine": "sandbox"})
        waiting_id = waiting["sessionId"]
        api.ok("POST", f"/api/v1/sessions/{waiting_id}/connect", json={"method": "qr"})
        api.ok(
            "POST",
            "/api/v1/webhooks",
            json={
                "url": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                "eventTypes": ["*", "session.qr"],
            },
        )
        memory_start = _memory(stack)
        accepted: list[str] = []
        incoming_sent: dict[str, float] = {}
        errors: Counter[str] = Counter()
        deadline = time.monotonic() + args.minutes * 60
        started = time.monotonic()
        n = 0
        next_incoming = started
        next_progress = started + 60
        while time.monotonic() < deadline:
            tick = time.monotonic()
            for _ in range(max(1, round(args.rate))):
                sid = sids[n % len(sids)]
                status, body = api.call(
                    "POST",
                    "/api/v1/messages",
                    json={"sessionId": sid, "to": f"+1555{n % 10**6:06d}1", "text": f"soak {n}"},
                )
                if status == 202:
                    accepted.append(body["data"]["messageId"])
                else:
                    errors[f"send {status} {body.get('error', {}).get('code')}"] += 1
                n += 1
            if tick >= next_incoming:
                text = f"incoming {len(incoming_sent)}"
                status, _ = api.call(
                    "POST",
                    f"/api/v1/sessions/{sids[0]}/sandbox/incoming",
                    json={"from": "+15550009999", "text": text},
                )
                if status == 202 or status == 200:
                    incoming_sent[text] = time.monotonic()
                else:
                    errors[f"incoming {status}"] += 1
                next_incoming += args.incoming_every
            if tick >= next_progress:
                state = api.call("GET", f"/api/v1/sessions/{waiting_id}")[1]["data"]["status"]
                if state in ("FAILED", "DISCONNECTED"):  # it gave up on the scan: again
                    api.call("POST", f"/api/v1/sessions/{waiting_id}/connect", json={})
                elapsed = (time.monotonic() - started) / 60
                print(
                    f"... {elapsed:.0f} min, {len(accepted)} accepted (logs in {tmp})", flush=True
                )
                next_progress += 60
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        run_s = time.monotonic() - started

        def settled() -> bool:
            statuses = _statuses(tmp)
            return statuses.get("read", 0) + statuses.get("failed", 0) >= len(accepted) and all(
                text in Receiver.incoming for text in incoming_sent
            )

        try:
            wait_for(settled, timeout_s=300, what="every message read", interval_s=1)
        except AssertionError:
            pass  # counted as lost below
        # Every event the gateway stored for a webhook should have reached the receiver.
        with _db(tmp) as db:
            stored = dict(db.execute("SELECT id, type FROM sessions_app_webhookevent"))
        wait_for(lambda: set(stored) <= set(Receiver.seen), timeout_s=120, what="all webhooks")
        statuses = _statuses(tmp)
        exits = _exits(tmp)
        never_read = len(accepted) - statuses.get("read", 0) - statuses.get("failed", 0)
        incoming_lost = [t for t in incoming_sent if t not in Receiver.incoming]
        webhooks_lost = set(stored) - set(Receiver.seen)
        latencies = sorted(Receiver.incoming[t] - incoming_sent[t] for t in Receiver.incoming)
        types = Counter(Receiver.seen.values())
        span_s = run_s

        report(f"soak of `make run` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC), {args.minutes:g} min")
        report(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB")
        report(
            f"accepted: {len(accepted)} ({len(accepted) / span_s:.1f}/s), refused: {dict(errors)}"
        )
        report(f"sent: {len(accepted) - statuses.get('queued', 0)}, statuses: {dict(statuses)}")
        report(f"webhook deliveries: {len(Receiver.seen)} ({len(Receiver.seen) / span_s:.1f}/s)")
        report(f"  by type: {dict(types)}; duplicates: {Receiver.duplicates}")
        if latencies:
            p95 = latencies[int(0.95 * (len(latencies) - 1))]
            report(
                f"incoming webhook latency: p50 {statistics.median(latencies):.2f} s,"
                f" p95 {p95:.2f} s, max {latencies[-1]:.2f} s ({len(latencies)} messages)"
            )
        report(f"QR rotations (session.qr webhooks): {types.get('session.qr', 0)}")
        report(f"process exits: {len(exits)}{' ' + '; '.join(exits) if exits else ''}")
        lost = never_read + len(incoming_lost) + len(webhooks_lost)
        report(
            f"messages lost: {lost} (never read: {never_read}, incoming without webhook:"
            f" {len(incoming_lost)}, webhooks never delivered: {len(webhooks_lost)})"
        )
        memory_end = _memory(stack)
        for name, start in memory_start.items():
            report(f"memory {name}: {start} MB -> {memory_end.get(name, 0)} MB")
        Path(args.out).write_text("\n".join(lines) + "\n")
    finally:
        stack.stop("run", sig=signal.SIGINT, timeout_s=60)
        receiver.shutdown()
    restarts = re.findall(r"started \(pid=", stack.logs["run"].read_text())
    print(f"(supervisor log: {len(restarts)} starts; data in {tmp})")


if __name__ == "__main__":
    main()
