"""Slow-header clients against a URL: do normal requests still get answered? Prints numbers.

Opens `--slow` connections that send a request line and then one header line every
`--drip-s` seconds, never finishing the headers (slowloris), and meanwhile sends a normal GET
every `--probe-every-s` seconds for `--duration-s`, each with a `--probe-timeout-s` deadline.
Reports how many normal requests were answered and how fast.

    python bench/slow_headers.py --url http://127.0.0.1:8000/login --slow 16

Run it against gunicorn alone and against nginx in front of it (README "Production").
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def slow_client(host: str, port: int, path: str, drip_s: float, stop: threading.Event) -> str:
    """Hold one connection open with headers that never end; return how it ended."""
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as exc:
        return f"connect failed: {exc}"
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode())
        n = 0
        while not stop.wait(drip_s):
            n += 1
            sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
        return "held to the end"
    except OSError:
        return "closed by the server"
    finally:
        sock.close()


def probe(url: str, timeout_s: float) -> tuple[bool, float, str]:
    """One normal GET: (answered, seconds, status or error)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            response.read()
            return True, time.monotonic() - started, str(response.status)
    except urllib.error.HTTPError as exc:  # any HTTP answer counts as answered
        return True, time.monotonic() - started, str(exc.code)
    except OSError as exc:
        return False, time.monotonic() - started, type(exc).__name__


def run(args: argparse.Namespace) -> dict[str, object]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    stop = threading.Event()
    endings: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: endings.append(slow_client(host, port, path, args.drip_s, stop)),
            daemon=True,
        )
        for _ in range(args.slow)
    ]
    for thread in threads:
        thread.start()
    time.sleep(args.settle_s)  # let the slow clients take their places first
    results: list[tuple[bool, float, str]] = []
    lock = threading.Lock()

    def one() -> None:
        outcome = probe(args.url, args.probe_timeout_s)
        with lock:
            results.append(outcome)

    probes = []
    deadline = time.monotonic() + args.duration_s
    while time.monotonic() < deadline:
        thread = threading.Thread(target=one, daemon=True)
        thread.start()
        probes.append(thread)
        time.sleep(args.probe_every_s)
    for thread in probes:
        thread.join(args.probe_timeout_s + 1)
    stop.set()
    for thread in threads:
        thread.join(args.drip_s + 2)
    answered = sorted(seconds for ok, seconds, _ in results if ok)
    return {
        "url": args.url,
        "slow_clients": args.slow,
        "probes": len(results),
        "answered": len(answered),
        "timed_out_or_failed": len(results) - len(answered),
        "p50_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
        "p95_ms": round(answered[int(0.95 * (len(answered) - 1))] * 1000, 1) if answered else None,
        "max_ms": round(answered[-1] * 1000, 1) if answered else None,
        "statuses": sorted({status for _, _, status in results}),
        "slow_clients_ended": {e: endings.count(e) for e in set(endings)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/login")
    parser.add_argument("--slow", type=int, default=16, help="slow-header connections")
    parser.add_argument("--drip-s", type=float, default=5.0, help="seconds between header lines")
    parser.add_argument("--duration-s", type=float, default=30.0, help="how long to probe")
    parser.add_argument("--probe-every-s", type=float, default=0.5)
    parser.add_argument("--probe-timeout-s", type=float, default=5.0)
    parser.add_argument("--settle-s", type=float, default=1.0)
    result = run(parser.parse_args())
    for key, value in result.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
