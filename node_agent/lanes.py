"""Send lanes: fair, ordered and paced sending on a node.

Every session has its own lane. Sender threads take the next message round-robin across the
sessions whose lane has one ready, so one session's backlog never delays another session's message
by more than a send. Within a session, messages of one chat leave one at a time in the order they
were accepted (the backend publishes them in that order); different chats of one session may go
out side by side. Each lane is paced by a token bucket: `rate_per_s` messages per second with
bursts of `burst` (the plan's send rate, sent with each message; 0: unpaced).

A lane with human-like pacing (pacing.py, the session's own setting) rests before each message
for a random delay, then, before a text, shows "typing…" in its chat and rests for the typing
time; then the message goes. Resting is the lane's own time, like waiting for a token: no
sender thread waits (they serve other lanes meanwhile), and a chat's order is unchanged.
Pacing is per session, as a person sends one message after another: while its lane rests, the
session's other chats wait too (what is already in flight goes on).

A message the engine cannot send yet (TransientSendError: session not connected, shared store out
of reach) stays at the head of its chat and its lane waits with back-off, so order holds; after
`max_attempts` the last try is final (the send path then reports the failure).

Lanes live in memory; every message in them is already recorded in the node's SQLite (`recorded`),
and a restarting node loads those back (NodeRuntime.start), so a crash loses nothing.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node_agent.engines.base import TransientSendError
from node_agent.pacing import Pacing

log = logging.getLogger(__name__)

# How far into a lane the picker looks for a chat that is not busy (a chat with a send in flight
# holds its later messages back; others pass them).
SCAN_DEPTH = 64


@dataclass
class TokenBucket:
    """`rate_per_s` tokens a second, at most `burst` held (`rate_per_s` None: unlimited, nothing
    counted). Times are seconds of the owner's clock; the owner locks (not thread-safe)."""

    rate_per_s: float | None = None
    burst: int = 1
    tokens: float = 1.0
    refilled_at: float = 0.0

    def set_rate(self, rate_per_s: float, burst: int) -> None:
        """Pace at `rate_per_s` tokens a second (0 or less: unlimited), bursts of `burst` (>= 1)."""
        self.rate_per_s = rate_per_s if rate_per_s > 0 else None
        self.burst = max(1, burst)
        self.tokens = min(self.tokens, self.burst)

    def rested(self, now: float) -> bool:
        """True when the bucket has refilled: forgetting it now loses no pacing."""
        if self.rate_per_s is None:
            return True
        return self.tokens + (now - self.refilled_at) * self.rate_per_s >= self.burst

    def wait_s(self, now: float) -> float:
        """Return 0 when a token is there, else the seconds until one is (nothing spent)."""
        if self.rate_per_s is None:
            return 0.0
        self.tokens = min(self.burst, self.tokens + (now - self.refilled_at) * self.rate_per_s)
        self.refilled_at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate_per_s

    def spend(self) -> None:
        """Spend one token (below zero after a `reserve` ahead of time)."""
        if self.rate_per_s is not None:
            self.tokens -= 1

    def give_back(self) -> None:
        """Return a token spent for something that did not happen."""
        if self.rate_per_s is not None:
            self.tokens = min(self.burst, self.tokens + 1)

    def reserve(self, now: float, max_wait_s: float) -> float | None:
        """Spend the next token, there now or later: return the seconds until it is (0: now),
        or None, spending nothing, when that is more than `max_wait_s`. Later callers queue
        behind it."""
        wait = self.wait_s(now)
        if wait > max_wait_s:
            return None
        self.spend()
        return wait


@dataclass
class LaneItem:
    """One message waiting in its session's lane."""

    message_id: str
    session_id: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int = 0
    typing_shown: bool = False  # "typing…" is showing in its chat: clear it before sending


@dataclass
class Lane:
    items: deque[LaneItem] = field(default_factory=deque)
    busy_chats: set[str] = field(default_factory=set)
    bucket: TokenBucket = field(default_factory=TokenBucket)
    pacing: Pacing | None = None
    # The lane rests until then: a back-off after a transient failure, a pacing delay or a
    # typing time (math.inf while "typing…" is being switched on).
    not_before: float = 0.0
    delay_due: bool = True  # pacing: the delay before the next send is still to be rested
    typed: LaneItem | None = None  # "typing…" shows for it: it goes when the rest ends


SendFn = Callable[[LaneItem, bool], Any]
TypingFn = Callable[[LaneItem, bool], Any]


class SendLanes:
    """Round-robin, per-chat ordered, paced sending with `threads` sender threads.

    `send(item, final_attempt)` sends one message (Messages.send through the runtime) and may
    raise TransientSendError. `backoff_s(attempts)` is the wait after a transient failure.
    `typing(item, composing)` shows (True) or clears (False) "typing…" in the item's chat; None:
    lanes never type. `clock` (seconds) and `rng` (pacing delays) are there for tests.
    """

    def __init__(
        self,
        send: SendFn,
        *,
        threads: int,
        max_attempts: int,
        backoff_s: Callable[[int], float],
        typing: TypingFn | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._send = send
        self._typing = typing
        self._threads_wanted = max(1, threads)
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._clock = clock
        self._rng = rng or random.Random()
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

    def wake(self) -> None:
        """Look at every lane again now (a test's clock moved; harmless otherwise)."""
        with self._cv:
            self._cv.notify_all()

    def submit(
        self,
        item: LaneItem,
        *,
        rate_per_s: float | None = None,
        burst: int = 1,
        pacing: Pacing | None = None,
    ) -> bool:
        """Queue `item` at the end of its session's lane; False if it is queued already.

        With `rate_per_s` stated, `rate_per_s`/`burst` and `pacing` replace the lane's (the
        latest task applies at once, also when it repeats a queued message): 0 is unpaced,
        None pacing is none. Without it (messages reloaded at start) the lane keeps its own (a
        new lane is unpaced).
        """
        with self._cv:
            queued = item.message_id in self._queued
            lane = self._lanes.get(item.session_id)
            if lane is None:
                if queued:
                    return False
                bucket = TokenBucket(tokens=burst, refilled_at=self._clock())
                lane = self._lanes[item.session_id] = Lane(bucket=bucket)
            if rate_per_s is not None:  # stated: 0 is unpaced
                lane.bucket.set_rate(rate_per_s, burst)
                lane.pacing = pacing
            if queued:
                return False
            lane.items.append(item)
            self._queued.add(item.message_id)
            self._cv.notify()
        return True

    def depth(self, session_id: str | None = None) -> int:
        """Messages waiting (in one session's lane, or in all), those showing "typing…" too."""
        with self._cv:
            if session_id is None:
                lanes = list(self._lanes.values())
            else:
                lanes = [self._lanes[session_id]] if session_id in self._lanes else []
            return sum(len(lane.items) + (lane.typed is not None) for lane in lanes)

    # Sender threads

    def _run(self) -> None:
        while True:
            with self._cv:
                picked = self._wait_for_next()
                if picked is None:
                    return
            lane, item, typing_s = picked
            if typing_s:
                self._show_typing(lane, item, typing_s)
            else:
                self._send_one(lane, item)

    def _wait_for_next(self) -> tuple[Lane, LaneItem, float] | None:
        while not self._stopping:
            now = self._clock()
            picked, wake_in = self._pick(now)
            if picked is not None:
                return picked
            self._cv.wait(timeout=wake_in)
        return None

    def _pick(self, now: float) -> tuple[tuple[Lane, LaneItem, float] | None, float | None]:
        """Take the next step round-robin: a message to send (typing time 0) or to show
        "typing…" for (its typing time, s); else return how long until one may be ready."""
        wake_in: float | None = None
        for session_id in list(self._lanes):
            lane = self._lanes[session_id]
            if not lane.items and lane.typed is None:
                if not lane.busy_chats and lane.bucket.rested(now):
                    del self._lanes[session_id]  # an idle lane with a full bucket costs nothing
                continue
            if lane.not_before > now:
                if lane.not_before != math.inf:  # else the thread switching typing on wakes us
                    wake_in = _sooner(wake_in, lane.not_before - now)
                continue
            if lane.typed is not None:  # its typing time is over: now it goes
                item, lane.typed = lane.typed, None
                self._lanes.move_to_end(session_id)
                return (lane, item, 0.0), None
            index = _first_free(lane)
            if index is None:
                continue  # each chat ahead has a send in flight; its end will notify
            wait = lane.bucket.wait_s(now)
            if wait:
                wake_in = _sooner(wake_in, wait)
                continue
            if lane.pacing is not None and lane.delay_due:
                lane.delay_due = False
                delay_s = lane.pacing.delay_s(self._rng)
                if delay_s > 0:
                    lane.not_before = now + delay_s
                    wake_in = _sooner(wake_in, delay_s)
                    continue
            lane.bucket.spend()
            lane.delay_due = True
            item = lane.items[index]
            del lane.items[index]
            lane.busy_chats.add(item.chat_id)
            self._lanes.move_to_end(session_id)
            typing_s = lane.pacing.typing_s(item.payload) if lane.pacing and self._typing else 0
            if typing_s:
                lane.typed, lane.not_before = item, math.inf
            return (lane, item, typing_s), None
        return None, wake_in

    def _show_typing(self, lane: Lane, item: LaneItem, typing_s: float) -> None:
        item.typing_shown = self._call_typing(item, True)
        with self._cv:  # "typing…" that could not be shown is not waited for
            lane.not_before = self._clock() + (typing_s if item.typing_shown else 0.0)
            self._cv.notify_all()

    def _call_typing(self, item: LaneItem, composing: bool) -> bool:
        """Show or clear "typing…" (best effort: the message goes either way); True if done."""
        try:
            if self._typing is not None:
                self._typing(item, composing)
                return True
        except Exception as exc:
            log.info("typing for %s not shown: %s", item.message_id, exc)
        return False

    def _send_one(self, lane: Lane, item: LaneItem) -> None:
        if item.typing_shown:
            item.typing_shown = False
            self._call_typing(item, False)
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
                back_off_until = self._clock() + self._backoff_s(item.attempts)
                lane.not_before = max(lane.not_before, back_off_until)
                lane.bucket.give_back()  # not sent: no token spent
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
