"""Benchmark of listing a session's groups when it is in hundreds of them, on the embedded
default (`make run`'s shape: SQLite, the embedded broker, one node).

Links a sandbox session, creates `--groups` groups through the API (each with two members),
then times `GET /api/v1/sessions/{id}/groups` (first page of 100, and all in one page of
500): a listing that fills the node's copy from the engine (`refresh=true`), and one served from
it. Prints numbers; asserts nothing. Goal (issue 14): a page answers within 1 s with 500 groups
(peers took 25 s or timed out with ~300, evolution-api#1883).
Run: `.venv/bin/python bench/groups_list.py --groups 500`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import embedded_stack  # noqa: E402
from tests.e2e.stack import Api  # noqa: E402


def _timed(api: Api, path: str, params: dict[str, str], runs: int) -> tuple[float, float, int]:
    """Return (median ms, max ms, total) of `runs` listings."""
    took, total = [], 0
    for _ in range(runs):
        started = time.monotonic()
        total = api.ok("GET", path, params=params)["total"]
        took.append((time.monotonic() - started) * 1000)
    return statistics.median(took), max(took), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with embedded_stack("bench-groups-") as stack:
        api = Api(stack.base_url, stack.create_api_key("bench-groups@example.com"))
        sid = api.link_sandbox("groups")
        at = f"/api/v1/sessions/{sid}/groups"
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda n: api.ok(
                        "POST",
                        at,
                        json={"subject": f"Group {n:04d}", "participants": [f"62812{n:08d}"]},
                    ),
                    range(args.groups),
                )
            )
        print(f"created {args.groups} groups in {time.monotonic() - started:.1f} s")
        for label, params in (
            ("refresh, page of 100", {"refresh": "true", "limit": "100"}),
            ("from the node's copy, page of 100", {"limit": "100"}),
            ("from the node's copy, page of 500", {"limit": "500"}),
            ("from the node's copy, searched", {"q": "0499"}),
        ):
            median, worst, total = _timed(api, at, params, args.runs)
            print(f"{label:36s} median {median:7.1f} ms  max {worst:7.1f} ms  (total {total})")


if __name__ == "__main__":
    main()
