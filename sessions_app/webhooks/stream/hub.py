"""The event stream's hub: one per stream process, reading every new event from the database and
handing each to the clients that want it.

Every STREAM_POLL_S it reads the events after its position (created_at, id). An event committed
late (its transaction began before one the hub has already read) sits behind that position, so
about once a second the hub also lists the ids of the last STREAM_LATE_S and hands over any it
has not seen. Each client has a queue of STREAM_QUEUE_MAX events; a client that lets it fill is
too slow and gets OVERFLOW (its stream ends; it resumes from its last event id, missing
nothing). While a user has clients, their events are stored (webhooks/monitor.py) for
STREAM_KEEP_S after.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from sessions_app.webhooks.models import types_want
from sessions_app.webhooks.monitor import monitor_watch
from sessions_app.webhooks.stream import selectors

log = logging.getLogger(__name__)

OVERFLOW: dict[str, Any] = {"overflow": True}  # a client's queue filled: its stream ends
READ_BATCH = 500
WATCH_REFRESH_S = 60.0


@dataclass(eq=False)
class Subscriber:
    """One stream client: its owner, the session it is limited to (None: all the owner's, and
    the account's own events), the event types it wants, and its queue."""

    owner_id: int
    session_id: str | None
    types: list[str]
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    def wants(self, row: dict[str, Any]) -> bool:
        if self.session_id is not None and row["session_id"] != self.session_id:
            return False
        return types_want(self.types, row["type"])


class Hub:
    """Hand every new event to the subscribers that want it (module docstring)."""

    def __init__(self) -> None:
        self._subscribers: dict[int, set[Subscriber]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._position: selectors.Position = (timezone.now(), "")
        self._seen: dict[str, Any] = {}  # ids handed over lately → their created_at
        self._watched: dict[int, float] = {}  # owner → when their watch was last refreshed

    def count(self, owner_id: int | None = None) -> int:
        """Return how many clients the owner (None: everyone) has connected here."""
        if owner_id is None:
            return sum(len(owned) for owned in self._subscribers.values())
        return len(self._subscribers.get(owner_id, ()))

    async def subscribe(self, subscriber: Subscriber) -> bool:
        """Add `subscriber` (its owner's events are stored from now on) and start the hub.
        True when nobody watched the owner's events before (see monitor_watch)."""
        self._subscribers[subscriber.owner_id].add(subscriber)
        if self._task is None or self._task.done():
            # From now: what came before is a client's to replay from the database.
            self._position = (timezone.now() - timedelta(seconds=settings.STREAM_POLL_S), "")
            self._task = asyncio.get_running_loop().create_task(self._run(), name="stream-hub")
        return await self._watch(subscriber.owner_id, force=True)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        owned = self._subscribers.get(subscriber.owner_id)
        if owned is not None:
            owned.discard(subscriber)
            if not owned:
                del self._subscribers[subscriber.owner_id]

    async def _watch(self, owner_id: int, *, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self._watched.get(owner_id, 0.0) > WATCH_REFRESH_S:
            self._watched[owner_id] = now
            return await sync_to_async(monitor_watch)(owner_id, settings.STREAM_KEEP_S)
        return False

    async def _run(self) -> None:
        polls = 0
        late_every = max(1, round(1.0 / settings.STREAM_POLL_S))
        while True:
            try:
                await self._poll(late=polls % late_every == 0)
                for owner_id in list(self._subscribers):
                    await self._watch(owner_id)
            except Exception:  # the database was away: try again on the next poll
                log.exception("event stream: reading new events failed")
            polls += 1
            await asyncio.sleep(settings.STREAM_POLL_S)

    async def _poll(self, *, late: bool) -> None:
        while True:
            rows = await sync_to_async(selectors.events_new)(self._position, READ_BATCH)
            self._hand_over(rows)
            if rows:
                self._position = (rows[-1]["created_at"], rows[-1]["id"])
            if len(rows) < READ_BATCH:
                break
        if late:
            start = self._position[0] - timedelta(seconds=settings.STREAM_LATE_S)
            ids = await sync_to_async(selectors.events_ids_between)(start, self._position)
            missed = [event_id for event_id in ids if event_id not in self._seen]
            if missed:
                self._hand_over(await sync_to_async(selectors.events_by_id)(missed))
            # What is older than the window the late scan reads never comes up again.
            self._seen = {k: t for k, t in self._seen.items() if t >= start}

    def _hand_over(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["id"] in self._seen:
                continue
            self._seen[row["id"]] = row["created_at"]
            for subscriber in list(self._subscribers.get(row["owner_id"], ())):
                if not subscriber.wants(row):
                    continue
                if subscriber.queue.qsize() >= settings.STREAM_QUEUE_MAX:
                    self.unsubscribe(subscriber)
                    subscriber.queue.put_nowait(OVERFLOW)
                else:
                    subscriber.queue.put_nowait(row)


hub = Hub()
