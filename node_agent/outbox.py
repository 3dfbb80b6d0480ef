"""Background delivery of the SQLite outbox to the backend.

Reports leave strictly in id order (the backend ignores a session status older than the last one it
applied, so overtaking would lose reports). The head report is retried with exponential back-off
and jitter on no answer, 5xx, 408 and 429; any other 4xx means the backend rejected it for good, so
it is logged and dropped. A report is deleted only after that verdict, so a crash or restart
resends it (the backend applies reports idempotently).
"""

from __future__ import annotations

import logging
import threading
import time

from node_agent.backend import BackendClient, backoff_s
from node_agent.database import NodeDatabase

log = logging.getLogger(__name__)

IDLE_WAIT_S = 5.0
JOIN_TIMEOUT_S = 20.0  # longer than one request's timeouts


class OutboxSender:
    """Drain `db`'s outbox to the backend from one daemon thread."""

    def __init__(self, db: NodeDatabase, base_url: str, token: str) -> None:
        self._db = db
        self._client = BackendClient(base_url, token)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the sender thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Tell the sender a report was added, so it goes out without waiting."""
        self._wake.set()

    def stop(self, flush_timeout_s: float = 0.0) -> None:
        """Stop the thread, first giving it up to `flush_timeout_s` to empty the outbox."""
        deadline = time.monotonic() + flush_timeout_s
        while self._db.outbox_count() and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
        self._client.close()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            self._wake.clear()
            report = self._db.outbox_head()
            if report is None:
                self._wake.wait(IDLE_WAIT_S)
                continue
            answer = self._client.request("POST", report["path"], report["body"])
            if answer.ok:
                self._db.outbox_delete(report["id"])
                attempt = 0
                continue
            if not answer.retryable:
                log.error(
                    "report dropped: backend answered %s to %s (outbox id %s): %s",
                    answer.status,
                    report["path"],
                    report["id"],
                    answer.error,
                )
                self._db.outbox_delete(report["id"])
                attempt = 0
                continue
            attempt += 1
            self._db.outbox_bump(report["id"])
            delay_s = backoff_s(attempt)
            log.warning(
                "report to %s not delivered (%s), retry %d in %.1f s",
                report["path"],
                answer.status or answer.error,
                attempt,
                delay_s,
            )
            # Only stop interrupts the back-off: a new report must not jump the failing head.
            self._stop.wait(delay_s)
