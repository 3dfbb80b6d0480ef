"""Send lanes: fair, ordered and paced sending on a node.

Every session has its own lane. Sender threads take the next message round-robin across the
sessions whose lane has one ready, so one session's backlog never delays another session's message
by more than a send. Within a session, messages of one chat leave one at a time in the order they
were accepted (the backend publishes them in that order); different chats of one session may go
out side by side. Each lane is paced by a token bucket: `rate_per_s` messages per second with
bursts of `burst` (the plan's send rate, sent with each message; 0: unpaced).

A message the engine cannot send yet (TransientSendError: session not connected, shared store out
of reach) stays at the head of its chat and its lane waits with back-off, so order holds; after
`max_attempts` the last try is final (the send path then reports the failure).

Lanes live in memory; every message in them is already recorded in the node's SQLite (`recorded`),
and a restarting node loads those back (NodeRuntime.start), so a crash loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node_agent.engines.base import TransientSendError

log = logging.getLogger(__name__)

# How far into a lane the picker looks for a chat that is not busy (a chat with a send in flight
# holds its later messages back; others pass them).
SCAN_DEPTH = 64


@dataclass
class LaneItem:
    """One message waiting in its session's lane."""

    message_id: str
    session_id: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int = 0


@dataclass
class Lane:
    items: deque[LaneItem] = field(default_factory=deque)
    busy_chats: set[str] = field(default_factory=set)
    rate_per_s: float | None = None
    burst: int = 1
    tokens: float = 1.0
    refilled_at: float = 0.0
    not_before: float = 0.0  # back-off after a transient failure

    def rested(self, now: float) -> bool:
        """True when the bucket has refilled: forgetting the lane now loses no pacing."""
        if self.rate_per_s is None:
            return True
        return self.tokens + (now - self.refilled_at) * self.rate_per_s >= self.burst

    def take_token(self, now: float) -> float:
        """Spend one token; return 0, or how many seconds until one is there (nothing spent)."""
        if self.rate_per_s is None:
            return 0.0
        self.tokens = min(self.burst, self.tokens + (now - self.refilled_at) * self.rate_per_s)
        self.refilled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_per_s


SendFn = Callable[[LaneItem, bool], Any]


class SendLanes:
    """Round-robin, per-chat ordered, paced sending with `threads` sender threads.

    `send(item, final_attempt)` sends one message (Messages.send through the runtime) and may
    raise TransientSendError. `backoff_s(attempts)` is the wait after a transient failure.
    """

    def __init__(
        self,
        send: SendFn,
        *,
        threads: int,
        max_attempts: int,
        backoff_s: Callable[[int], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._threads_wanted = max(1, threads)
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._clock = clock
        self._lanes: OrderedDict[str, Lane] = OrderedDict()  # round-robin order: served → end
        self._queued: set[str] = set()
        self._cv = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        for n in range(self._threads_wanted):
            thread = threading.Thread(target=self._run, name=f"send-lane-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop taking messages; wait up to `timeout_s` for sends in flight. What is still
        queued stays `recorded` in the node's database and is loaded at the next start."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def submit(
        self,
        item: LaneItem,
        *,
        rate_per_s: float | None = None,
        burst: int = 1,
    ) -> bool:
        """Queue `item` at the end of its session's lane; False if it is queued already.

        `rate_per_s`/`burst` replace the lane's pacing (the latest plan applies at once); 0 is
        unpaced, None keeps the lane's (a new lane is unpaced).
        """
        with self._cv:
            if item.message_id in self._queued:
                return False
            lane = self._lanes.get(item.session_id)
            if lane is None:
                now = self._clock()
                lane = self._lanes[item.session_id] = Lane(refilled_at=now, tokens=burst)
            if rate_per_s is not None:  # stated: 0 is unpaced
                lane.rate_per_s = rate_per_s if rate_per_s > 0 else None
                lane.burst = max(1, burst)
                lane.tokens = min(lane.tokens, lane.burst)
            lane.items.append(item)
            self._queued.add(item.message_id)
            self._cv.notify()
        return True

    def depth(self, session_id: str | None = None) -> int:
        """Messages waiting (in one session's lane, or in all)."""
        with self._cv:
            if session_id is not None:
                lane = self._lanes.get(session_id)
                return len(lane.items) if lane else 0
            return sum(len(lane.items) for lane in self._lanes.values())

    # Sender threads

    def _run(self) -> None:
        while True:
            with self._cv:
                picked = self._wait_for_next()
                if picked is None:
                    return
            lane, item = picked
            self._send_one(lane, item)

    def _wait_for_next(self) -> tuple[Lane, LaneItem] | None:
        while not self._stopping:
            now = self._clock()
            picked, wake_in = self._pick(now)
            if picked is not None:
                return picked
            self._cv.wait(timeout=wake_in)
        return None

    def _pick(self, now: float) -> tuple[tuple[Lane, LaneItem] | None, float | None]:
        """Take the next message round-robin; else return how long until one may be ready."""
        wake_in: float | None = None
        for session_id in list(self._lanes):
            lane = self._lanes[session_id]
            if not lane.items:
                if not lane.busy_chats and lane.rested(now):
                    del self._lanes[session_id]  # an idle lane with a full bucket costs nothing
                continue
            if lane.not_before > now:
                wake_in = _sooner(wake_in, lane.not_before - now)
                continue
            index = _first_free(lane)
            if index is None:
                continue  # each chat ahead has a send in flight; its end will notify
            wait = lane.take_token(now)
            if wait:
                wake_in = _sooner(wake_in, wait)
                continue
            item = lane.items[index]
            del lane.items[index]
            lane.busy_chats.add(item.chat_id)
            self._lanes.move_to_end(session_id)
            return (lane, item), None
        return None, wake_in

    def _send_one(self, lane: Lane, item: LaneItem) -> None:
        item.attempts += 1
        final = item.attempts >= self._max_attempts
        retry = False
        try:
            self._send(item, final)
        except TransientSendError as exc:
            retry = not final
            log.info("message %s waits (%s), try %d", item.message_id, exc.code, item.attempts)
        except Exception:
            log.exception("sending %s failed unexpectedly", item.message_id)
        with self._cv:
            lane.busy_chats.discard(item.chat_id)
            if retry:
                lane.items.appendleft(item)  # still the first of its chat: order holds
                lane.not_before = self._clock() + self._backoff_s(item.attempts)
                if lane.rate_per_s is not None:
                    lane.tokens = min(lane.burst, lane.tokens + 1)  # not sent: no token spent
                if item.session_id not in self._lanes:
                    self._lanes[item.session_id] = lane
            else:
                self._queued.discard(item.message_id)
            self._cv.notify_all()


def _first_free(lane: Lane) -> int | None:
    for index, item in enumerate(lane.items):
        if index >= SCAN_DEPTH:
            return None
        if item.chat_id not in lane.busy_chats:
            return index
    return None


def _sooner(current: float | None, candidate: float) -> float:
    return candidate if current is None else min(current, candidate)
