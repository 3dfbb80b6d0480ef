"""Build the node's reports to the backend (node_agent.protocol) and queue them in the outbox.

Every report gets a `timestamp` from one node-wide clock that never repeats or goes back, even
across restarts (it starts after the newest timestamp stored), so per-session timestamps are
strictly increasing as the backend requires. Taking the timestamp and appending to the outbox
happen under one lock, so outbox order = timestamp order.

Every body carries `workerId`, this node's id: once a session has moved to another node, the
backend ignores what its former node still reports about it.

A caller that changes state and reports it does both inside `changing()`, so the change and its
outbox row commit together: a crash leaves both or neither, and no change goes unreported.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from node_agent import protocol
from node_agent.clock import format_ts, parse_ts
from node_agent.database import NodeDatabase

ONE_US = timedelta(microseconds=1)


class Reporter:
    """Queue reports of node `worker_id` in `db`'s outbox and call `wake()` after each one."""

    def __init__(self, db: NodeDatabase, wake: Callable[[], None], worker_id: str) -> None:
        self._db = db
        self._wake = wake
        self.worker_id = worker_id
        self.lock = threading.RLock()
        last = db.last_report_at()
        self._last = parse_ts(last) if last else datetime.min.replace(tzinfo=UTC)

    @contextmanager
    def changing(self, *, durable: bool = False) -> Iterator[None]:
        """Hold `lock` and one database transaction (in this order, never the other way round):
        what the block writes and the reports it queues commit together, or none of it does.
        `durable`: see NodeDatabase.transaction."""
        with self.lock, self._db.transaction(durable=durable):
            yield

    def _next_ts(self) -> str:
        self._last = max(datetime.now(UTC), self._last + ONE_US)
        return format_ts(self._last)

    def _queue(self, report: protocol.NodeReport) -> dict[str, Any]:
        """Append `report` (timestamp already taken, lock held) to the outbox; return its body."""
        body = report.to_wire()
        self._db.outbox_add(report.PATH, body)
        return body

    def session_status(self, session_id: str, status: str, **fields: Any) -> dict[str, Any]:
        """Queue a session-status report and remember it on the session row; return the body.

        `fields` are SessionStatusReport's optional ones (`qr_string`, `qr_expires_at`,
        `qr_index`, `pairing_code`, `phone_number`, `jid`, `reason`); None values are left out
        of the body. Raises TypeError for another name.
        """
        report = protocol.SessionStatusReport(session_id=session_id, status=status, **fields)
        return self._queue_session_status(report)

    def repeat_session_status(self, session_id: str, last: dict[str, Any]) -> dict[str, Any]:
        """Queue the session's last report (`last`, its stored body) again with a new timestamp.

        For a repeated task: the backend gets the status it may have missed.
        """
        previous = protocol.SessionStatusReport.from_wire(last)
        return self._queue_session_status(dataclasses.replace(previous, session_id=session_id))

    def _queue_session_status(self, report: protocol.SessionStatusReport) -> dict[str, Any]:
        # The report and the session's memory of it commit together, durably (database.py).
        with self.changing(durable=True):
            report = dataclasses.replace(
                report, worker_id=self.worker_id, timestamp=self._next_ts()
            )
            body = self._queue(report)
            self._db.session_update(
                report.session_id,
                status=report.status,
                last_report=body,
                last_report_at=report.timestamp,
            )
        self._wake()
        return body

    def message_status(
        self,
        session_id: str,
        message_id: str,
        status: str,
        *,
        wa_message_id: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> dict[str, Any]:
        """Queue a message-status report (sent|delivered|read|failed); return the body.

        An empty `wa_message_id` or `error_code` counts as none (left out of the body).
        """
        error = None
        if error_code:
            error = {"code": error_code, "message": error_message or error_code}
        with self.lock:
            body = self._queue(
                protocol.MessageStatusReport(
                    session_id=session_id,
                    message_id=message_id,
                    status=status,
                    worker_id=self.worker_id,
                    timestamp=self._next_ts(),
                    wa_message_id=wa_message_id or None,
                    error=error,
                )
            )
        self._wake()
        return body

    def group_event(self, session_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """Queue a group-event report of an engine's `group` event (its keys: `event`,
        `event_id`, `group`, `data`, `by`?); return the body."""
        with self.lock:
            body = self._queue(
                protocol.GroupEventReport(
                    session_id=session_id,
                    event=event["event"],
                    event_id=event["event_id"],
                    group=event["group"],
                    data=event.get("data") or {},
                    by=event.get("by") or None,
                    worker_id=self.worker_id,
                    timestamp=self._next_ts(),
                )
            )
        self._wake()
        return body

    def session_event(
        self, session_id: str, type_: str, event_id: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Queue a session-event report (protocol.SESSION_EVENT_TYPES); return the body."""
        with self.lock:
            body = self._queue(
                protocol.SessionEventReport(
                    session_id=session_id,
                    type=type_,
                    event_id=event_id,
                    data=data,
                    worker_id=self.worker_id,
                    timestamp=self._next_ts(),
                )
            )
        self._wake()
        return body

    def message_received(self, session_id: str, incoming: dict[str, Any]) -> dict[str, Any]:
        """Queue a message-received report for an engine's `incoming` dict; return the body.

        A message without a timestamp of its own gets the clock's (the clock moves only then).
        """
        with self.lock:
            message = incoming_message(
                incoming, timestamp=incoming.get("timestamp") or self._next_ts()
            )
            body = self._queue(
                protocol.MessageReceivedReport(
                    session_id=session_id, message=message, worker_id=self.worker_id
                )
            )
        self._wake()
        return body


def incoming_message(incoming: Mapping[str, Any], *, timestamp: str) -> dict[str, Any]:
    """Return the `message` of a message-received report (protocol.MessageReceivedReport) from
    an engine's incoming message; its `timestamp` is the message's own, else `timestamp`."""
    message = {
        "id": incoming["id"],
        "from": incoming["from"],
        "chatId": incoming["chatId"],
        "type": incoming.get("type", "text"),
        "timestamp": incoming.get("timestamp") or timestamp,
        "fromMe": False,
    }
    for key in protocol.INCOMING_CONTENT_KEYS:
        if incoming.get(key) is not None:
            message[key] = incoming[key]
    return message
