"""Number checks ("is this number on WhatsApp?"), spaced per session on the node.

The backend counts a session's checks per minute (429 `rate_limited` past the plan's number);
the node also spaces them evenly, with a token bucket per session at the plan's
`number_checks_per_minute` (sent with each `check_number` task) and bursts of one, so a burst
of checks that the minute allows still reaches WhatsApp one at a time. A check waits for its
session's next token at most CHECK_WAIT_MAX_S, and one check per session waits at a time; any
other is answered `rate_limited` with the seconds until a check may pass, and the backend turns
that into 429. Sessions never wait for one another: each has its own bucket.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from node_agent import protocol
from node_agent.database import NodeDatabase
from node_agent.engines.base import Engine, TransientSendError, holding_engine
from node_agent.lanes import TokenBucket

# A waiting check holds one of the node's Celery threads (WORKER_CONCURRENCY) and the caller's
# request, which gives up after the backend's NODE_RPC_TIMEOUT_S (10 s): stay well under both.
CHECK_WAIT_MAX_S = 3.0


class NumberChecks:
    """Answer `check_number` tasks through the engine holding each session, spaced per session.

    `clock` (seconds) and `sleep` are there for tests.
    """

    def __init__(
        self,
        db: NodeDatabase,
        engines: dict[str, Engine],
        *,
        wait_max_s: float = CHECK_WAIT_MAX_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self._db = db
        self._engines = engines
        self._wait_max_s = wait_max_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._waiting: set[str] = set()  # sessions with a check waiting for its token

    def check(self, ask: protocol.CheckNumber) -> dict[str, Any]:
        """Return `{"jid": <jid or None>}`, `{"error": NOT_CONNECTED}`, or `{"error":
        CheckNumber.RATE_LIMITED, "retryAfterS": n}` (whole seconds, at least 1; WhatsApp was
        not asked) when the session's next check is more than the wait away or another of its
        checks waits already. May wait (this thread) up to CHECK_WAIT_MAX_S first."""
        engine = holding_engine(self._engines, self._db.session_get(ask.session_id))
        if engine is None:
            return {"error": protocol.NOT_CONNECTED}
        granted, wait_s = self._reserve(ask.session_id, ask.rate_per_minute)
        if not granted:
            retry_after_s = max(1, math.ceil(wait_s))
            return {"error": protocol.CheckNumber.RATE_LIMITED, "retryAfterS": retry_after_s}
        if wait_s:
            try:
                self._sleep(wait_s)
            finally:
                with self._lock:
                    self._waiting.discard(ask.session_id)
        try:
            return {"jid": engine.check_number(ask.session_id, protocol.digits(ask.phone))}
        except TransientSendError:
            return {"error": protocol.NOT_CONNECTED}

    def _reserve(self, session_id: str, rate_per_minute: int) -> tuple[bool, float]:
        """Take the session's next token: (True, seconds to wait for it), or (False, seconds
        until one may be had) when that is too far or another check of the session waits."""
        if not rate_per_minute or rate_per_minute <= 0:
            return True, 0.0
        with self._lock:
            now = self._clock()
            for other in [s for s, b in self._buckets.items() if b.rested(now)]:
                if other not in self._waiting:
                    del self._buckets[other]  # full again: forgetting it loses no spacing
            bucket = self._buckets.get(session_id)
            if bucket is None:
                bucket = self._buckets[session_id] = TokenBucket(tokens=1, refilled_at=now)
            bucket.set_rate(rate_per_minute / 60, 1)
            wait_s = None if session_id in self._waiting else bucket.reserve(now, self._wait_max_s)
            if wait_s is None:
                return False, bucket.wait_s(now)
            if wait_s:
                self._waiting.add(session_id)
            return True, wait_s
