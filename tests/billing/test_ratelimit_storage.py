"""The embedded default's rate-limit store: one SQLite file, exact across processes."""

from __future__ import annotations

import multiprocessing

from limits import RateLimitItemPerMinute, storage, strategies

import billing.ratelimit_storage  # noqa: F401  (registers the sqlite scheme)


def _hits(url: str, count: int, results: multiprocessing.Queue) -> None:
    limiter = strategies.FixedWindowRateLimiter(storage.storage_from_string(url))
    item = RateLimitItemPerMinute(25, namespace="test")
    results.put(sum(limiter.hit(item, "key:1") for _ in range(count)))


def test_four_processes_hitting_one_limit_get_exactly_the_limit(tmp_path):
    url = f"sqlite://{tmp_path / 'rates.sqlite3'}"
    results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hits, args=(url, 10, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    allowed = sum(results.get(timeout=30) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert allowed == 25


def test_a_window_ends_and_its_count_with_it(tmp_path, monkeypatch):
    store = storage.storage_from_string(f"sqlite://{tmp_path / 'rates.sqlite3'}")
    assert store.incr("k", 60) == 1
    assert store.incr("k", 60) == 2
    assert store.get("k") == 2
    now = billing.ratelimit_storage.time.time()
    monkeypatch.setattr(billing.ratelimit_storage.time, "time", lambda: now + 61)
    assert store.get("k") == 0
    assert store.incr("k", 60) == 1
