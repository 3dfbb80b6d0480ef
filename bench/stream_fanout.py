"""Benchmark of the live event stream's fan-out: `--clients` SSE clients on one stream process
(uvicorn), every one of them waiting for one event, on the embedded default (`make run`'s
shape: SQLite, the embedded broker, one node).

Links a sandbox session, opens the clients (asyncio, plain sockets; one account, so
STREAM_CLIENTS_PER_USER is raised), then `--rounds` times has a contact write to the session
and measures, from the moment the API accepted the incoming message, when each client got its
`message.received`: median, p99 and the last. Prints numbers; asserts nothing. Goal (issue 15):
500 clients get a broadcast event within 2 s.
Run: `.venv/bin/python bench/stream_fanout.py --clients 500`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import embedded_stack  # noqa: E402
from tests.e2e.stack import Api  # noqa: E402


async def _client(url: str, key: str, arrivals: list[float], ready: asyncio.Event) -> None:
    """One SSE client: append time.monotonic() to `arrivals` at each message.received."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        (
            f"GET {parts.path}?types=message.received HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    ready.set()
    while line := await reader.readline():
        if line.startswith(b"event: message.received"):
            arrivals.append(time.monotonic())


async def _fan_out(stream: str, api: Api, key: str, sid: str, clients: int, rounds: int) -> None:
    arrivals: list[list[float]] = [[] for _ in range(clients)]
    readies = [asyncio.Event() for _ in range(clients)]
    tasks = [
        asyncio.create_task(_client(stream, key, arrivals[n], readies[n])) for n in range(clients)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=60)
    print(f"{clients} clients connected")
    for n in range(rounds):
        body = {"from": "+6281200000400", "text": f"broadcast {n}"}
        at = f"/api/v1/sessions/{sid}/sandbox/incoming"
        await asyncio.to_thread(api.ok, "POST", at, json=body)
        accepted = time.monotonic()
        deadline = accepted + 30
        while any(len(a) <= n for a in arrivals) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        took = sorted((a[n] - accepted) * 1000 for a in arrivals if len(a) > n)
        missing = clients - len(took)
        p99 = took[int(len(took) * 0.99) - 1] if took else 0
        print(
            f"round {n + 1}: median {statistics.median(took):.0f} ms, p99 {p99:.0f} ms, "
            f"last {took[-1]:.0f} ms, {missing} clients without it"
        )
    for task in tasks:
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    limits = {"STREAM_CLIENTS_PER_USER": str(args.clients + 10)}
    with embedded_stack("bench-stream-", **limits) as stack:
        stream = stack.start_stream() + "/api/v1/events/stream"
        key = stack.create_api_key("bench-stream@example.com")
        api = Api(stack.base_url, key)
        sid = api.link_sandbox("stream")
        asyncio.run(_fan_out(stream, api, key, sid, args.clients, args.rounds))


if __name__ == "__main__":
    main()
