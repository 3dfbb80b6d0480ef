"""One thread that runs callbacks at given delays (a heap of timers, not a thread per timer)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    """Run `fn()` after `delay_s` seconds on the scheduler's daemon thread, in due order."""

    def __init__(self, name: str = "scheduler") -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Queue `fn` to run in `delay_s` seconds (>= 0). Callbacks can't be cancelled: they
        check for themselves whether they are still wanted."""
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._seq), fn))
            self._cond.notify()

    def barrier(self, delay_s: float = 0.0, timeout_s: float = 10.0) -> bool:
        """Wait until every callback due within `delay_s` seconds from now has run; True if so.

        Callbacks run in due order, so a marker due after them runs after them (tests use it to
        know a timer has fired). Callbacks queued meanwhile for later are not waited for.
        Returns False after `delay_s + timeout_s` seconds, or if the scheduler is stopped.
        """
        done = threading.Event()
        self.call_later(delay_s, done.set)
        return done.wait(delay_s + timeout_s)

    def stop(self) -> None:
        """Drop pending callbacks and end the thread (waits for a running callback)."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait_s = self._heap[0][0] - time.monotonic()
                    if wait_s <= 0:
                        break
                    self._cond.wait(wait_s)
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("scheduled callback failed")
