"""The node's own database, one local SQLite file: sessions, messages in and out, the outbox.

Not to be confused with the shared session store of a cluster (session_store.py) or with the
WhatsApp engine's device stores (engines/whatsapp/device_store.py).

One connection in autocommit mode, guarded by a lock, so the Celery thread pool, the engine's
scheduler and the outbox sender can share it. WAL with `synchronous=FULL`: a row committed before a
message is handed to the engine survives a power cut, which the exactly-once rule depends on.
Rows come back as plain dicts; JSON columns (`credentials`, `payload`, `last_report`) are decoded.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from node_agent.clock import utc_now_iso
from node_agent.schema import (
    JSON_COLUMNS,
    MESSAGE_FIELDS,
    SCHEMA,
    SESSION_FIELDS,
    history_query,
    migrate_desired,
    open_sqlite,
)

BUSY_TIMEOUT_S = 5.0


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    for column in JSON_COLUMNS:
        if data.get(column) is not None:
            data[column] = json.loads(data[column])
    return data


def _encode(column: str, value: Any) -> Any:
    return json.dumps(value) if column in JSON_COLUMNS and value is not None else value


class NodeDatabase:
    """Thread-safe access to the node's SQLite file at `path` (created with its folder)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.RLock()
        self._conn = open_sqlite(path, busy_timeout_s=BUSY_TIMEOUT_S)
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        with self._lock:
            migrate_desired(self._conn)

    def close(self) -> None:
        """Close the connection; the database is unusable afterwards."""
        with self._lock:
            self._conn.close()

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        with self._lock:
            return _row(self._conn.execute(sql, tuple(params)).fetchone())

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(sql, tuple(params)).fetchall()
        return [_row(r) for r in rows]  # type: ignore[misc]

    def _exec(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, tuple(params))

    def _exec_many(self, sql: str, ids: list[int]) -> None:
        """Run `sql` (one `?`) for each id in one transaction: one commit, not one per id."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(sql, [(i,) for i in ids])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # Sessions

    def session_get(self, session_id: str) -> dict[str, Any] | None:
        """Return the session row or None."""
        return self._one("SELECT * FROM sessions WHERE session_id = ?", (session_id,))

    def session_list(self, desired: str | None = None) -> list[dict[str, Any]]:
        """Return all sessions, or those whose desired state is `desired` (see SESSIONS_TABLE)."""
        if desired is None:
            return self._all("SELECT * FROM sessions ORDER BY created_at")
        return self._all("SELECT * FROM sessions WHERE desired = ? ORDER BY created_at", (desired,))

    def session_upsert(
        self, session_id: str, *, user_id: str, engine: str, method: str, phone_number: str | None
    ) -> dict[str, Any]:
        """Create the session or update its start parameters; either way desired = running."""
        now = utc_now_iso()
        with self._lock:
            self._conn.execute(
                "INSERT INTO sessions (session_id, user_id, engine, method, phone_number,"
                " desired, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)"
                " ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id,"
                " engine = excluded.engine, method = excluded.method,"
                " phone_number = COALESCE(sessions.phone_number, excluded.phone_number),"
                " desired = 'running', updated_at = excluded.updated_at",
                (session_id, user_id, engine, method, phone_number, now, now),
            )
            return self.session_get(session_id)  # type: ignore[return-value]

    def session_update(self, session_id: str, **fields: Any) -> None:
        """Set columns of one session (names from SESSION_FIELDS; JSON columns are encoded)."""
        unknown = set(fields) - SESSION_FIELDS
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        columns = ", ".join(f"{name} = ?" for name in fields)
        values = [_encode(name, value) for name, value in fields.items()]
        self._exec(
            f"UPDATE sessions SET {columns}, updated_at = ? WHERE session_id = ?",
            [*values, utc_now_iso(), session_id],
        )

    def session_delete(self, session_id: str) -> None:
        """Forget the session and every message of it (pending outbox reports stay)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
                self._conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def last_report_at(self) -> str | None:
        """Return the newest status-report timestamp of any session (ISO string) or None."""
        row = self._one("SELECT MAX(last_report_at) AS last FROM sessions")
        return row["last"] if row else None

    # Messages

    def message_record_out(
        self, message_id: str, *, session_id: str, chat_jid: str, type_: str, payload: dict
    ) -> tuple[dict[str, Any], bool]:
        """Insert an outbound message in state `recorded` unless `message_id` exists.

        Returns (row, created). Committed before returning, so a crash after this leaves a trace.
        """
        now = utc_now_iso()
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO messages (message_id, session_id, direction, chat_jid,"
                " type, payload, state, created_at, updated_at)"
                " VALUES (?, ?, 'out', ?, ?, ?, 'recorded', ?, ?)",
                (message_id, session_id, chat_jid, type_, json.dumps(payload), now, now),
            )
            return self.message_get(message_id), cursor.rowcount == 1  # type: ignore[return-value]

    def message_record_in(
        self,
        *,
        session_id: str,
        wa_message_id: str,
        chat_jid: str,
        from_phone: str,
        type_: str,
        payload: dict,
    ) -> bool:
        """Store an incoming message; return False if this wa id was already stored."""
        now = utc_now_iso()
        cursor = self._exec(
            "INSERT OR IGNORE INTO messages (wa_message_id, session_id, direction, chat_jid,"
            " from_phone, type, payload, state, status, created_at, updated_at)"
            " VALUES (?, ?, 'in', ?, ?, ?, ?, 'received', 'received', ?, ?)",
            (wa_message_id, session_id, chat_jid, from_phone, type_, json.dumps(payload), now, now),
        )
        return cursor.rowcount == 1

    def message_get(self, message_id: str) -> dict[str, Any] | None:
        """Return the outbound message with this gateway id, or None."""
        return self._one("SELECT * FROM messages WHERE message_id = ?", (message_id,))

    def message_get_by_wa(self, wa_message_id: str) -> dict[str, Any] | None:
        """Return the outbound message with this WhatsApp id, or None."""
        return self._one(
            "SELECT * FROM messages WHERE wa_message_id = ? AND direction = 'out'",
            (wa_message_id,),
        )

    def message_list(self, session_id: str, direction: str | None = None) -> list[dict[str, Any]]:
        """Return a session's messages, oldest first, optionally only `in` or `out`."""
        if direction is None:
            return self._all(
                "SELECT * FROM messages WHERE session_id = ? ORDER BY id", (session_id,)
            )
        return self._all(
            "SELECT * FROM messages WHERE session_id = ? AND direction = ? ORDER BY id",
            (session_id, direction),
        )

    def message_get_by_wa_any(self, session_id: str, wa_message_id: str) -> dict[str, Any] | None:
        """Return a session's message (in or out) with this WhatsApp id, or None."""
        return self._one(
            "SELECT * FROM messages WHERE session_id = ? AND wa_message_id = ? ORDER BY id LIMIT 1",
            (session_id, wa_message_id),
        )

    def message_page(
        self,
        session_id: str,
        since: int,
        limit: int,
        *,
        before: int = 0,
        newest_first: bool = False,
        direction: str = "",
        query: str = "",
    ) -> list[dict[str, Any]]:
        """Return up to `limit` of a session's messages with row id above `since` (and below
        `before` when > 0), oldest first unless `newest_first`; `direction` ("in"/"out") and
        `query` (part of the text or caption, chat JID or sender, case-insensitive) filter."""
        sql, args = history_query(
            session_id,
            since,
            limit,
            before=before,
            newest_first=newest_first,
            direction=direction,
            query=query,
        )
        return self._all(sql, args)

    def message_list_in_state(self, state: str) -> list[dict[str, Any]]:
        """Return outbound messages in delivery `state` (recorded|handed|sent|failed)."""
        return self._all(
            "SELECT * FROM messages WHERE direction = 'out' AND state = ? ORDER BY id", (state,)
        )

    def message_transition(
        self, message_id: str, from_states: tuple[str, ...], to_state: str, **fields: Any
    ) -> bool:
        """Move a message to `to_state` only if it is in one of `from_states`; True if it moved.

        The conditional update is the claim: of two threads racing, exactly one gets True.
        """
        unknown = set(fields) - MESSAGE_FIELDS
        if unknown:
            raise ValueError(f"unknown message fields: {sorted(unknown)}")
        columns = "".join(f", {name} = ?" for name in fields)
        marks = ", ".join("?" for _ in from_states)
        cursor = self._exec(
            f"UPDATE messages SET state = ?{columns}, updated_at = ?"
            f" WHERE message_id = ? AND state IN ({marks})",
            [to_state, *fields.values(), utc_now_iso(), message_id, *from_states],
        )
        return cursor.rowcount == 1

    def message_set_status(self, message_id: str, status: str) -> None:
        """Set the delivery status (sent|delivered|read|failed) of an outbound message."""
        self._exec(
            "UPDATE messages SET status = ?, updated_at = ? WHERE message_id = ?",
            (status, utc_now_iso(), message_id),
        )

    # Outbox

    def outbox_add(self, path: str, body: dict[str, Any]) -> int:
        """Append a report for `path` (backend URL path) and return its id."""
        cursor = self._exec(
            "INSERT INTO outbox (path, body, created_at) VALUES (?, ?, ?)",
            (path, json.dumps(body), utc_now_iso()),
        )
        return int(cursor.lastrowid or 0)

    def outbox_batch(self, limit: int) -> list[dict[str, Any]]:
        """Return the oldest `limit` pending reports (`id, path, body, attempts, created_at`)."""
        return self._all("SELECT * FROM outbox ORDER BY id LIMIT ?", (limit,))

    def outbox_list(self) -> list[dict[str, Any]]:
        """Return every pending report, oldest first."""
        return self._all("SELECT * FROM outbox ORDER BY id")

    def outbox_delete(self, report_ids: list[int]) -> None:
        """Remove reports the backend took (or rejected for good)."""
        self._exec_many("DELETE FROM outbox WHERE id = ?", report_ids)

    def outbox_bump(self, report_ids: list[int]) -> None:
        """Count one failed delivery attempt of each report."""
        self._exec_many("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", report_ids)

    def outbox_count(self) -> int:
        """Return how many reports wait for the backend."""
        row = self._one("SELECT COUNT(*) AS n FROM outbox")
        return int(row["n"]) if row else 0

    # Node state and usage counts

    def state_get(self, key: str) -> str | None:
        """Return the value of `key` in the node's state (schema.STATE_* keys), or None."""
        row = self._one("SELECT value FROM node_state WHERE key = ?", (key,))
        return row["value"] if row else None

    def state_set(
        self, key: str, value: str, *, report: tuple[str, dict[str, Any]] | None = None
    ) -> None:
        """Set `key` to `value`; with `report` (path, body), append it to the outbox in the same
        transaction, so a crash leaves both or neither."""
        now = utc_now_iso()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if report is not None:
                    self._conn.execute(
                        "INSERT INTO outbox (path, body, created_at) VALUES (?, ?, ?)",
                        (report[0], json.dumps(report[1]), now),
                    )
                self._conn.execute(
                    "INSERT INTO node_state (key, value, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                    " updated_at = excluded.updated_at",
                    (key, value, now),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def usage_counts(self, start: str, end: str) -> list[dict[str, Any]]:
        """Return `{session_id, sent, received}` of each session with traffic in [start, end)
        (node timestamps), by session id: `sent` its outbound messages in state sent whose
        `sent_at` is in the range, `received` its incoming ones stored (received) in it."""
        return self._all(
            "SELECT session_id, SUM(direction = 'out') AS sent, SUM(direction = 'in') AS received"
            " FROM (SELECT session_id, direction FROM messages WHERE direction = 'out'"
            " AND state = 'sent' AND sent_at >= ? AND sent_at < ?"
            " UNION ALL SELECT session_id, direction FROM messages WHERE direction = 'in'"
            " AND created_at >= ? AND created_at < ?)"
            " GROUP BY session_id ORDER BY session_id",
            (start, end, start, end),
        )
