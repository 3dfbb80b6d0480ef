"""The node's own database, one local SQLite file: sessions, messages in and out, the outbox.

Not to be confused with the shared session store of a cluster (session_store.py) or with the
WhatsApp engine's device stores (engines/whatsapp/device_store.py).

One connection in autocommit mode, guarded by a lock, so the Celery thread pool, the engine's
scheduler and the outbox sender can share it. Rows come back as plain dicts; JSON columns
(`credentials`, `payload`, `last_report`) are decoded.

Durability (WAL mode). Every commit survives a crash of the process: its WAL frames are the
kernel's once COMMIT returns. A power cut (or kernel crash) spares `durable` commits
(`synchronous=FULL`, the WAL fsynced before COMMIT returns) and every commit before one (the WAL
is written in order). Durable: the `handed` claim, made before the engine gets the message (the
exactly-once rule depends on it), sessions, node state, incoming messages with their report.
The rest (`synchronous=NORMAL`: a message recorded, sent or failed, receipts, each with its
report in one transaction; outbox deletes) is spared once a later durable commit or `sync()`
happened, else a power cut may roll the newest of them back, each whole. The outbox sender
calls `sync()` before it tells the backend anything, so a power cut never takes back a state
the backend was told of. It may take back: a message recorded, not yet handed (its task was
acknowledged; the backend's sweep publishes a `queued` message again); a `sent`/`failed` outcome
(the message is then found `handed` at the next start and reported failed `delivery_unknown`,
never resent); receipts (the backend keeps the status before them); a delete (the report goes
again, applied once). The window: from such a commit to the sender's next sync, about one
backend round trip. What it buys: one fsync per batch of reports, not one per write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from node_agent.clock import utc_now_iso
from node_agent.schema import (
    MESSAGE_FIELDS,
    SCHEMA,
    SESSION_FIELDS,
    STATE_SYNCED_AT,
    USAGE_COUNTS_SQL,
    decode_row,
    encode_value,
    history_query,
    migrate_desired,
    open_sqlite,
)

BUSY_TIMEOUT_S = 5.0
SESSION_BRIEF = "session_id, user_id, engine, method, desired, status, phone_number, jid"


class NodeDatabase:
    """Thread-safe access to the node's SQLite file at `path` (created with its folder)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.RLock()
        self._conn = open_sqlite(path, busy_timeout_s=BUSY_TIMEOUT_S)
        self._conn.execute("PRAGMA synchronous=NORMAL")  # durable commits say so (module doc)
        self._conn.executescript(SCHEMA)
        with self._lock:
            migrate_desired(self._conn)
            self._synced_changes = -1  # `total_changes` at the last durable commit
            self._sync_after = False  # a durable block joined the open transaction

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[None]:
        """Run the block's statements in one transaction, the lock held throughout: committed
        together at its end, or rolled back together if it raises. `durable`: the commit
        survives a power cut, and so does everything committed before (module doc). Inside
        another transaction it joins that one (a `durable` one then syncs after it commits).
        """
        with self._lock:
            if self._conn.in_transaction:
                self._sync_after = self._sync_after or durable
                yield
                return
            # SQLite takes the safety level only outside a transaction.
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                if durable:
                    self._synced_changes = self._conn.total_changes
            finally:
                self._sync_after, sync_after = False, self._sync_after and not durable
                if durable:
                    self._conn.execute("PRAGMA synchronous=NORMAL")
            if sync_after:
                self.sync()

    def sync(self) -> bool:
        """Make every commit so far survive a power cut (one fsync); False if none was needed
        (nothing was written since the last durable commit)."""
        with self._lock:
            if self._conn.total_changes == self._synced_changes:
                return False
            with self.transaction(durable=True):
                # A durable commit needs something to write: the time of this one.
                self._state_write(STATE_SYNCED_AT, utc_now_iso())
            return True

    def close(self) -> None:
        """Close the connection; the database is unusable afterwards."""
        with self._lock:
            self._conn.close()

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        with self._lock:
            return decode_row(self._conn.execute(sql, tuple(params)).fetchone())

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(sql, tuple(params)).fetchall()
        return [decode_row(r) for r in rows]  # type: ignore[misc]

    def _exec(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, tuple(params))

    def _exec_many(self, sql: str, ids: list[int]) -> None:
        """Run `sql` (one `?`) for each id in one transaction: one commit, not one per id."""
        with self.transaction():
            self._conn.executemany(sql, [(i,) for i in ids])

    # Sessions

    def session_get(self, session_id: str, *, full: bool = True) -> dict[str, Any] | None:
        """Return the session row or None; `full=False`: without its JSON columns (credentials,
        last_report), for the checks made on every message."""
        columns = "*" if full else SESSION_BRIEF
        return self._one(f"SELECT {columns} FROM sessions WHERE session_id = ?", (session_id,))

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
        with self.transaction(durable=True):
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
        values = [encode_value(name, value) for name, value in fields.items()]
        with self.transaction(durable=True):
            self._conn.execute(
                f"UPDATE sessions SET {columns}, updated_at = ? WHERE session_id = ?",
                [*values, utc_now_iso(), session_id],
            )

    def session_delete(self, session_id: str) -> None:
        """Forget the session and every message of it (pending outbox reports stay)."""
        with self.transaction(durable=True):
            self._conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            self._conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

    def last_report_at(self) -> str | None:
        """Return the newest status-report timestamp of any session (ISO string) or None."""
        row = self._one("SELECT MAX(last_report_at) AS last FROM sessions")
        return row["last"] if row else None

    # Messages

    def message_record_out(
        self, message_id: str, *, session_id: str, chat_jid: str, type_: str, payload: dict
    ) -> tuple[dict[str, Any], bool]:
        """Insert an outbound message in state `recorded` unless `message_id` exists.

        Returns (row, created). Committed before returning, so a crash after this leaves a trace
        (not durable: see the module doc).
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
        """Store an incoming message; return False if this wa id was already stored.

        Durable, unless inside a transaction (which then decides).
        """
        now = utc_now_iso()
        with self.transaction(durable=True):
            cursor = self._exec(
                "INSERT OR IGNORE INTO messages (wa_message_id, session_id, direction, chat_jid,"
                " from_phone, type, payload, state, status, created_at, updated_at)"
                " VALUES (?, ?, 'in', ?, ?, ?, ?, 'received', 'received', ?, ?)",
                (
                    wa_message_id,
                    session_id,
                    chat_jid,
                    from_phone,
                    type_,
                    json.dumps(payload),
                    now,
                    now,
                ),
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
        chat: str = "",
    ) -> list[dict[str, Any]]:
        """Return up to `limit` of a session's messages with row id above `since` (and below
        `before` when > 0), oldest first unless `newest_first`; `direction` ("in"/"out"),
        `query` (part of the text or caption, chat JID or sender, case-insensitive) and `chat`
        (one chat's JID) filter."""
        sql, args = history_query(
            session_id,
            since,
            limit,
            before=before,
            newest_first=newest_first,
            direction=direction,
            query=query,
            chat=chat,
        )
        return self._all(sql, args)

    def message_list_in_state(self, state: str) -> list[dict[str, Any]]:
        """Return outbound messages in delivery `state` (recorded|handed|sent|failed)."""
        return self._all(
            "SELECT * FROM messages WHERE direction = 'out' AND state = ? ORDER BY id", (state,)
        )

    def message_transition(
        self,
        message_id: str,
        from_states: tuple[str, ...],
        to_state: str,
        *,
        durable: bool = False,
        **fields: Any,
    ) -> bool:
        """Move a message to `to_state` only if it is in one of `from_states`; True if it moved.

        The conditional update is the claim: of two threads racing, exactly one gets True.
        `durable`: committed so as to survive a power cut (outside a transaction; module doc).
        """
        unknown = set(fields) - MESSAGE_FIELDS
        if unknown:
            raise ValueError(f"unknown message fields: {sorted(unknown)}")
        columns = "".join(f", {name} = ?" for name in fields)
        marks = ", ".join("?" for _ in from_states)
        with self.transaction(durable=durable):
            cursor = self._conn.execute(
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
        transaction, so a crash leaves both or neither. Durable."""
        with self.transaction(durable=True):
            if report is not None:
                self.outbox_add(report[0], report[1])
            self._state_write(key, value)

    def _state_write(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO node_state (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, utc_now_iso()),
        )

    def usage_counts(self, start: str, end: str) -> list[dict[str, Any]]:
        """Return `{session_id, sent, received}` of each session with traffic in [start, end)
        (node timestamps), by session id: `sent` its outbound messages in state sent whose
        `sent_at` is in the range, `received` its incoming ones stored (received) in it."""
        return self._all(USAGE_COUNTS_SQL, (start, end, start, end))
