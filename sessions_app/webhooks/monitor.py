"""The dashboard's live event monitor: events are kept for a user while someone watches.

An event with no endpoint that wants it is normally not stored at all (the hot path writes
nothing for it). While the monitor page of a user is open it calls `monitor_watch` on each poll,
and for MONITOR_WATCH_S after that every event of the user is stored, so the page can show it.
The flag lives in the cache (shared by every process); each process keeps its answer for up to
MEMO_S so the send path asks the cache at most once a second per user.
"""

from __future__ import annotations

import threading
import time

from django.core.cache import cache

MONITOR_WATCH_S = 30
MEMO_S = 1.0
_memo: dict[int, tuple[float, bool]] = {}
_memo_lock = threading.Lock()


def _key(owner_id: int) -> str:
    return f"event-monitor:{owner_id}"


def monitor_watch(owner_id: int) -> None:
    """Note that `owner_id`'s monitor is open: keep their events for MONITOR_WATCH_S."""
    cache.set(_key(owner_id), 1, MONITOR_WATCH_S)
    with _memo_lock:
        _memo[owner_id] = (time.monotonic() + MEMO_S, True)


def monitor_watched(owner_id: int) -> bool:
    """Tell whether someone watches `owner_id`'s events (at most MEMO_S stale)."""
    now = time.monotonic()
    with _memo_lock:
        memo = _memo.get(owner_id)
    if memo is not None and memo[0] > now:
        return memo[1]
    watched = bool(cache.get(_key(owner_id)))
    with _memo_lock:
        if len(_memo) > 10_000:
            _memo.clear()
        _memo[owner_id] = (now + MEMO_S, watched)
    return watched
