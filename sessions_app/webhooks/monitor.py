"""Watching a user's events: they are kept while someone watches, and a while after.

An event with no endpoint that wants it is normally not stored at all (the hot path writes
nothing for it). While the monitor page of a user is open it calls `monitor_watch` on each poll,
and for MONITOR_WATCH_S after that every event of the user is stored, so the page can show it;
an event stream client (webhooks/stream) does so for STREAM_KEEP_S, so that it can resume.
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


def monitor_watch(owner_id: int, seconds: float = MONITOR_WATCH_S) -> bool:
    """Note that `owner_id`'s events are watched: keep them for `seconds` from now (a longer
    watch already noted stays). True when nobody watched them: then the processes that store
    events may go on storing none for up to MEMO_S (their memo of the flag)."""
    key = _key(owner_id)
    until = time.time() + seconds
    before = cache.get(key) or 0
    if before < until:
        cache.set(key, until, int(seconds) + 1)
    with _memo_lock:  # this process stores them from now on
        _memo[owner_id] = (time.monotonic() + MEMO_S, True)
    return before < time.time()


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
