"""Build the node's reports to the backend and queue them in the outbox.

Bodies are camelCase JSON (DESIGN.md §3.1). Every report gets a `timestamp` from one node-wide
clock that never repeats or goes back, even across restarts (it starts after the newest timestamp
stored), so per-session timestamps are strictly increasing as the backend requires. Taking the
timestamp and appending to the outbox happen under one lock, so outbox order = timestamp order.

Every body carries `workerId`, this node's id: once a session has moved to another node, the
backend ignores what its former node still reports about it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from node_agent.backend import MESSAGE_RECEIVED_PATH, MESSAGE_STATUS_PATH, SESSION_STATUS_PATH
from node_agent.engines.base import INCOMING_CONTENT_KEYS
from node_agent.store import Store

TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
ONE_US = timedelta(microseconds=1)


def parse_ts(value: str) -> datetime:
    """Parse a report timestamp (`2026-11-29T07:00:00.123456Z`) to an aware datetime."""
    return datetime.strptime(value, TS_FORMAT).replace(tzinfo=UTC)


class Reporter:
    """Queue reports of node `worker_id` in `store`'s outbox and call `wake()` after each one."""

    def __init__(self, store: Store, wake: Callable[[], None], worker_id: str) -> None:
        self._store = store
        self._wake = wake
        self.worker_id = worker_id
        self.lock = threading.RLock()
        last = store.last_report_at()
        self._last = parse_ts(last) if last else datetime.min.replace(tzinfo=UTC)

    def _next_ts(self) -> str:
        self._last = max(datetime.now(UTC), self._last + ONE_US)
        return self._last.strftime(TS_FORMAT)

    def session_status(self, session_id: str, status: str, **fields: Any) -> dict[str, Any]:
        """Queue a session-status report and remember it on the session row; return the body.

        `fields` are camelCase (`qrString`, `qrExpiresAt`, `qrIndex`, `pairingCode`,
        `phoneNumber`, `jid`, `reason`); None values are left out.
        """
        body: dict[str, Any] = {"sessionId": session_id, "status": status}
        body.update({key: value for key, value in fields.items() if value is not None})
        body["workerId"] = self.worker_id
        with self.lock:
            body["timestamp"] = self._next_ts()
            self._store.outbox_add(SESSION_STATUS_PATH, body)
            self._store.session_update(
                session_id, status=status, last_report=body, last_report_at=body["timestamp"]
            )
        self._wake()
        return body

    def repeat_session_status(self, session_id: str, last: dict[str, Any]) -> dict[str, Any]:
        """Queue the session's last report again with a new timestamp (a repeated task)."""
        own = ("sessionId", "status", "timestamp", "workerId")
        fields = {k: v for k, v in last.items() if k not in own}
        return self.session_status(session_id, last["status"], **fields)

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
        """Queue a message-status report (sent|delivered|read|failed); return the body."""
        body: dict[str, Any] = {
            "sessionId": session_id,
            "messageId": message_id,
            "status": status,
            "workerId": self.worker_id,
        }
        if wa_message_id:
            body["waMessageId"] = wa_message_id
        if error_code:
            body["error"] = {"code": error_code, "message": error_message or error_code}
        with self.lock:
            body["timestamp"] = self._next_ts()
            self._store.outbox_add(MESSAGE_STATUS_PATH, body)
        self._wake()
        return body

    def message_received(self, session_id: str, incoming: dict[str, Any]) -> dict[str, Any]:
        """Queue a message-received report for an engine's `incoming` dict; return the body."""
        message = {
            "id": incoming["id"],
            "from": incoming["from"],
            "chatId": incoming["chatId"],
            "type": incoming.get("type", "text"),
            "timestamp": incoming.get("timestamp"),
            "fromMe": False,
        }
        for key in INCOMING_CONTENT_KEYS:
            if incoming.get(key) is not None:
                message[key] = incoming[key]
        body = {"sessionId": session_id, "workerId": self.worker_id, "message": message}
        with self.lock:
            if message["timestamp"] is None:
                message["timestamp"] = self._next_ts()
            self._store.outbox_add(MESSAGE_RECEIVED_PATH, body)
        self._wake()
        return body
