"""The sandbox's simulated WhatsApp network: one SQLite file per deployment.

Every node on the machine opens the same file (WAL, busy timeout), so it is safe across processes.
It holds the ledger of every message that left the gateway (one row per engine send, deliberately
not unique on `message_id`, so a duplicate send shows as two rows) and the devices linked to
sandbox phones.
"""

from __future__ import annotations

import json
from typing import Any

from node_agent.clock import utc_now_iso
from node_agent.schema import OwnTables

# The network's magic numbers (by the last digits of a phone number): not on WhatsApp; a contact
# whose privacy settings refuse being added to groups (sandbox_groups.py).
NOT_ON_WHATSAPP_SUFFIX = "99"
REFUSES_ADDS_SUFFIX = "98"
# Several node processes write the file: wait this long for another one's write lock.
SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    wa_message_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    from_phone TEXT NOT NULL,
    to_jid TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_message ON ledger (message_id);
CREATE INDEX IF NOT EXISTS ledger_wa_message ON ledger (wa_message_id);
CREATE TABLE IF NOT EXISTS devices (
    session_id TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    jid TEXT NOT NULL,
    device_key TEXT NOT NULL,
    linked_at TEXT NOT NULL
);
"""


class NetworkFile(OwnTables):
    """A connection of its own to the shared network file at `path`, with the subclass's
    tables. The ledger, the groups (sandbox_group_network) and the contact book
    (sandbox_contacts) each keep one."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        # A simulation: its writes survive a crash of any node process, which is what the
        # ledger's exactly-once proofs need; an fsync per message sent (FULL) only costs CPU.
        self._conn.execute("PRAGMA synchronous=NORMAL")


class SandboxNetwork(NetworkFile):
    """The ledger and the linked devices in the shared network file."""

    SCHEMA = SCHEMA

    def ledger_add(
        self,
        *,
        message_id: str,
        wa_message_id: str,
        session_id: str,
        from_phone: str,
        to_jid: str,
        type_: str,
        payload: dict[str, Any],
    ) -> None:
        """Record that a message left the gateway."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO ledger (message_id, wa_message_id, session_id, from_phone, to_jid,"
                " type, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    wa_message_id,
                    session_id,
                    from_phone,
                    to_jid,
                    type_,
                    json.dumps(payload),
                    utc_now_iso(),
                ),
            )

    def ledger_by_wa_id(self, wa_message_id: str) -> dict[str, Any] | None:
        """Return the ledger row of a message WhatsApp knows by `wa_message_id`, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM ledger WHERE wa_message_id = ?", (wa_message_id,)
            ).fetchone()
        return {**dict(row), "payload": json.loads(row["payload"])} if row else None

    def ledger(self, message_id: str | None = None) -> list[dict[str, Any]]:
        """Return ledger rows (all, or those of one gateway message id), oldest first.

        Each row: `message_id, wa_message_id, session_id, from_phone, to_jid, type, payload`
        (decoded dict) and `created_at`.
        """
        sql = "SELECT * FROM ledger"
        params: tuple[str, ...] = ()
        if message_id is not None:
            sql += " WHERE message_id = ?"
            params = (message_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", params).fetchall()
        result = []
        for row in rows:
            data = dict(row)
            data["payload"] = json.loads(data["payload"])
            result.append(data)
        return result

    def device_link(self, *, session_id: str, phone: str, jid: str, device_key: str) -> None:
        """Record a device linked to `phone` (replacing an earlier link of the session)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO devices (session_id, phone, jid, device_key, linked_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_id, phone, jid, device_key, utc_now_iso()),
            )

    def device_unlink(self, session_id: str) -> bool:
        """Remove the session's linked device; return True if one was linked."""
        with self._lock:
            cursor = self._conn.execute("DELETE FROM devices WHERE session_id = ?", (session_id,))
        return cursor.rowcount == 1

    def device_get(self, session_id: str) -> dict[str, Any] | None:
        """Return the session's linked device (`session_id, phone, jid, device_key, linked_at`)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM devices WHERE session_id = ?", (session_id,)
            ).fetchone()
        return dict(row) if row else None
