"""Background delivery of the SQLite outbox to the backend, in batches.

Reports leave strictly in id order (the backend ignores a session status older than the last one it
applied, so overtaking would lose reports): up to REPORT_BATCH_MAX of them at the head of the outbox
go in one request (`protocol.ReportBatch`), which the backend applies in order.
One request per report bounded a node to ~65 reports/s, about three per message. A report a batch
may not carry (not in BATCHED_PATHS: the hourly usage report) goes alone to its own path, in its
turn. A batch is retried with exponential back-off and jitter on no answer, 5xx, 401, 403, 408
and 429 (a refused credential keeps the reports until the node has one that works); a report
the backend refused (4xx, in the batch's results or for a lone report) is refused for good,
so it is logged and dropped. A report is deleted only after that verdict, so a crash or restart
resends it (the backend applies reports idempotently). A backend without the batch route (404) gets
one report a request. Under load (a request went out less than BUSY_WINDOW_S ago) the sender waits
`linger_s` for a batch to fill before it sends one that is not full, as Kafka's `linger.ms`
does: fewer, fuller requests cost the backend far less per report; a report after a quiet spell
(a QR code, a lone message) goes at once. Before a request leaves, the outbox is made durable
(NodeDatabase.sync: one fsync for all the writes since the last), so a power cut never takes back
what the backend was told.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from node_agent import protocol
from node_agent.backend import BackendClient, Response, backoff_s
from node_agent.database import NodeDatabase

log = logging.getLogger(__name__)

IDLE_WAIT_S = 5.0
JOIN_TIMEOUT_S = 20.0  # longer than one request's timeouts
BUSY_WINDOW_S = 1.0


class OutboxSender:
    """Drain `db`'s outbox to the backend from one daemon thread."""

    def __init__(
        self,
        db: NodeDatabase,
        base_url: str,
        token: str,
        worker_id: str = "",
        *,
        linger_s: float = 0.0,
    ) -> None:
        self._db = db
        self._linger_s = linger_s
        self._busy_until = 0.0  # monotonic time until which a new report lingers
        self._client = BackendClient(base_url, token)
        self._worker_id = worker_id
        self._batches = True  # until a backend answers that it takes none
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_node(cls, db: NodeDatabase, config: Any) -> OutboxSender:
        """Return the sender of a node's NodeConfig `config`."""
        return cls(
            db,
            config.backend_url,
            config.backend_auth_token,
            config.worker_id,
            linger_s=config.report_linger_s,
        )

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
            limit = protocol.REPORT_BATCH_MAX if self._batches else 1
            reports = one_request(self._db.outbox_batch(limit))
            if not reports:
                self._wake.wait(IDLE_WAIT_S)
                continue
            if len(reports) < limit and time.monotonic() < self._busy_until:
                self._stop.wait(self._linger_s)  # let the batch fill (module docstring)
                reports = one_request(self._db.outbox_batch(limit))
            self._db.sync()
            answer, verdicts = self._send(reports)
            if verdicts is None:
                attempt += 1
                self._db.outbox_bump([report["id"] for report in reports])
                delay_s = backoff_s(attempt)
                log.warning(
                    "%d reports not delivered (%s), retry %d in %.1f s",
                    len(reports),
                    answer.status or answer.error,
                    attempt,
                    delay_s,
                )
                # Only stop interrupts the back-off: a new report must not jump the failing head.
                self._stop.wait(delay_s)
                continue
            attempt = 0
            if self._linger_s:
                self._busy_until = time.monotonic() + BUSY_WINDOW_S
            for report, (status, reason) in zip(reports, verdicts, strict=False):
                if not 200 <= status < 300:
                    log.error(
                        "report dropped: backend answered %s to %s (outbox id %s): %s",
                        status,
                        report["path"],
                        report["id"],
                        reason,
                    )
            self._db.outbox_delete([report["id"] for report in reports[: len(verdicts)]])

    def _send(self, reports: list[dict[str, Any]]) -> tuple[Response, list[tuple[int, str]] | None]:
        """Send `reports` (a batch, or one alone); return the answer and a verdict per report.

        The verdicts are (status, reason) of the reports the backend decided on, in order; None
        when it decided on none (no answer, or a failure worth a retry).
        """
        if len(reports) == 1 and (not self._batches or not batched(reports[0])):
            return self._send_one(reports[0])
        batch = protocol.ReportBatch(
            reports=[{"path": r["path"], "body": r["body"]} for r in reports],
            worker_id=self._worker_id,
        )
        answer = self._client.request("POST", protocol.REPORTS_PATH, batch.to_wire())
        if answer.status == 404 and answer.code in ("", "not_found"):
            log.warning("the backend takes no report batches: sending one report a request")
            self._batches = False
            return answer, []
        if answer.retryable:
            return answer, None
        results = (answer.data or {}).get(protocol.RESULTS) if answer.ok else None
        if not isinstance(results, list) or len(results) != len(reports):
            # The batch as a whole was refused: its head goes alone, so a bad report is
            # dropped by itself and the rest go on.
            return self._send_one(reports[0])
        return answer, [(int(r.get("status", 0)), str(r.get("code", ""))) for r in results]

    def _send_one(self, report: dict[str, Any]) -> tuple[Response, list[tuple[int, str]] | None]:
        answer = self._client.request("POST", report["path"], report["body"])
        if answer.retryable:
            return answer, None
        return answer, [(answer.status or 0, answer.error)]


def batched(report: dict[str, Any]) -> bool:
    """Return True when a batch may carry `report` (an outbox row: its path is batched)."""
    return report["path"] in protocol.BATCHED_PATHS


def one_request(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the head of `reports` (outbox rows, oldest first) that goes in one request: the
    ones before the first a batch may not carry, or that one alone when it is the head."""
    for index, report in enumerate(reports):
        if not batched(report):
            return reports[:index] or reports[:1]
    return reports
