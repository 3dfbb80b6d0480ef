"""The node's hourly usage report: per completed UTC hour, what each session sent and received.

Counted from the node's SQLite (NodeDatabase.usage_counts): `sent` is a session's outbound
messages in state sent whose `sent_at` falls in the hour, `received` its incoming messages the
node stored in the hour. One `protocol.UsageReport` per hour goes through the outbox like every
other report (at-least-once, in order, kept across restarts), so it reaches the backend after
the message-status reports of that hour, and the backend reconciles against a ledger that
already has them. The outbox sends it alone (it is not a batched path).

The end of the last hour handled is kept in the node's state (schema.STATE_USAGE_REPORTED_UNTIL)
and written in the same SQLite transaction that queues the hour's report: after a crash or a
restart the next hour is the first one not yet queued, so no hour is skipped or queued twice.
An hour without traffic is queued as nothing (no report), only marked done. At start, and after
a long stop, at most the last CATCH_UP_HOURS completed hours are counted; older ones are skipped
(and logged). A report sent twice (the outbox resends after a crash) is harmless: the backend
replaces a node's figures of a session and hour, it never adds to them.

It runs on a Scheduler thread of its own: at start, then every WORKER_USAGE_REPORT_INTERVAL_S
seconds (default 3600), on multiples of the interval plus a few seconds, so by default just
after each hour has ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from node_agent import protocol
from node_agent.clock import format_ts, parse_ts
from node_agent.database import NodeDatabase
from node_agent.scheduler import Scheduler
from node_agent.schema import STATE_USAGE_REPORTED_UNTIL

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
CATCH_UP_HOURS = 24
# A run starts this long after its slot (at most a tenth of the interval), so a message stamped
# sent just before the hour ended has been written when the hour is counted.
RUN_LAG_MAX_S = 5.0


def hour_start(moment: datetime) -> datetime:
    """Return the start of the UTC hour holding `moment` (an aware datetime)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class UsageReporter:
    """Queue node `worker_id`'s usage per completed UTC hour in `db`'s outbox.

    `wake()` is called after reports were queued (the outbox sender's wake); `interval_s` is
    the time between runs (> 0); `now()` returns the current aware UTC time (tests move it on).
    """

    def __init__(
        self,
        db: NodeDatabase,
        wake: Callable[[], None],
        worker_id: str,
        interval_s: float,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._wake = wake
        self._worker_id = worker_id
        self._interval_s = interval_s
        self._now = now
        self._lock = threading.Lock()  # one run at a time (the timer, or a caller)
        self._scheduler: Scheduler | None = None
        self._stopped = threading.Event()

    def report_due(self) -> list[dict[str, Any]]:
        """Queue a report for each completed hour not yet handled; return their bodies.

        Safe to repeat: an hour is handled once (the mark moves on with its report). Raises
        sqlite3.Error when the database fails; the hours from there on stay due.
        """
        with self._lock:
            current = hour_start(self._now())
            hour = self._first_due(current)
            bodies = []
            while hour < current:
                body = self._queue_hour(hour)
                if body is not None:
                    bodies.append(body)
                hour += HOUR
        if bodies:
            self._wake()
        return bodies

    def _first_due(self, current: datetime) -> datetime:
        """Return the start of the first hour to count: the stored mark, at most
        CATCH_UP_HOURS before `current` (an unreadable mark counts as none)."""
        oldest = current - CATCH_UP_HOURS * HOUR
        stored = self._db.state_get(STATE_USAGE_REPORTED_UNTIL)
        if stored is None:
            return oldest
        try:
            mark = hour_start(parse_ts(stored))
        except ValueError:
            log.warning("unreadable usage mark %r: counting the last %d h", stored, CATCH_UP_HOURS)
            return oldest
        if mark < oldest:
            skipped = int((oldest - mark) / HOUR)
            log.warning(
                "usage of %d hours before the last %d is not reported", skipped, CATCH_UP_HOURS
            )
            return oldest
        return mark

    def _queue_hour(self, start: datetime) -> dict[str, Any] | None:
        """Count the hour from `start` and mark it done, queueing its report if it had traffic
        (one transaction); return the report's body, or None for an hour without traffic."""
        period_start, period_end = format_ts(start), format_ts(start + HOUR)
        rows = self._db.usage_counts(period_start, period_end)
        body = None
        if rows:
            body = protocol.UsageReport(
                worker_id=self._worker_id,
                period_start=period_start,
                period_end=period_end,
                sessions=[
                    {"sessionId": r["session_id"], "sent": r["sent"], "received": r["received"]}
                    for r in rows
                ],
            ).to_wire()
        report = (protocol.USAGE_REPORT_PATH, body) if body is not None else None
        self._db.state_set(STATE_USAGE_REPORTED_UNTIL, period_end, report=report)
        return body

    # The timer

    def start(self) -> None:
        """Run now (catching up), then every `interval_s` seconds, on a thread of its own."""
        if self._scheduler is None:
            self._scheduler = Scheduler("usage-report")
            self._scheduler.call_later(0, self._tick)

    def stop(self) -> None:
        """Stop the timer (waits for a run in progress). Idempotent."""
        self._stopped.set()
        if self._scheduler is not None:
            self._scheduler.stop()

    def next_delay_s(self) -> float:
        """Return the seconds until the next run: the next multiple of the interval (on the
        epoch clock, so hourly runs come just after the hour) plus a short lag."""
        lag_s = min(RUN_LAG_MAX_S, self._interval_s / 10)
        return self._interval_s - time.time() % self._interval_s + lag_s

    def _tick(self) -> None:
        try:
            self.report_due()
        except Exception:
            log.exception("usage report failed: the hours stay due for the next run")
        finally:
            if not self._stopped.is_set() and self._scheduler is not None:
                self._scheduler.call_later(self.next_delay_s(), self._tick)
