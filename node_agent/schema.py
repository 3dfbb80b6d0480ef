"""The node's SQLite file, as tables: the schema, its columns, and opening a connection.

NodeDatabase (database.py) owns this file's tables; stores with tables of their own (the node's
group store, its contact names, the sandbox network's file) each keep a connection of their own
(`OwnTables`, `open_sqlite`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# `desired`: running (resume it here), stopped (keep it here, off) or moved (it runs on another
# node now: nothing of it is reported or sent here until a session_start brings it back).
SESSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL DEFAULT '',
    engine TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'qr',
    desired TEXT NOT NULL DEFAULT 'running' CHECK (desired IN ('running', 'stopped', 'moved')),
    status TEXT NOT NULL DEFAULT 'INITIALIZING',
    phone_number TEXT,
    jid TEXT,
    credentials TEXT,
    last_report TEXT,
    last_report_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""
SESSION_COLUMNS = (
    "session_id, user_id, engine, method, desired, status, phone_number, jid, credentials,"
    " last_report, last_report_at, created_at, updated_at"
)
OTHER_TABLES = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT UNIQUE,
    wa_message_id TEXT,
    session_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    chat_jid TEXT NOT NULL,
    from_phone TEXT,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('recorded', 'handed', 'sent', 'failed', 'received')),
    status TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at TEXT NOT NULL,
    handed_at TEXT,
    sent_at TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (session_id, direction, wa_message_id)
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (session_id, created_at);
CREATE INDEX IF NOT EXISTS messages_chat ON messages (session_id, chat_jid, id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
"""
# Added later: on an older file, the statements create them at the next open (IF NOT EXISTS).
# `node_state`: small facts of the node that must survive restarts (STATE_* keys). The partial
# indexes serve the usage counts of one hour (NodeDatabase.usage_counts): sends by `sent_at`,
# incoming messages by `created_at` (when the node received them).
LATER_TABLES = """
CREATE TABLE IF NOT EXISTS node_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_sent_at ON messages (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_in_at ON messages (created_at) WHERE direction = 'in';
CREATE INDEX IF NOT EXISTS messages_wa_out ON messages (wa_message_id) WHERE direction = 'out';
"""
SCHEMA = SESSIONS_TABLE.format(name="sessions") + OTHER_TABLES + LATER_TABLES
# The end of the last UTC hour whose usage is reported (or was empty), a node timestamp.
STATE_USAGE_REPORTED_UNTIL = "usage_reported_until"
# When the node's file was last made durable (NodeDatabase.sync writes it to have a commit).
STATE_SYNCED_AT = "synced_at"

SESSION_FIELDS = frozenset(
    {
        "user_id",
        "engine",
        "method",
        "desired",
        "status",
        "phone_number",
        "jid",
        "credentials",
        "last_report",
        "last_report_at",
    }
)
MESSAGE_FIELDS = frozenset(
    {"wa_message_id", "state", "status", "error_code", "error_message", "handed_at", "sent_at"}
)
JSON_COLUMNS = ("credentials", "payload", "last_report", "body")


def decode_row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    """Return a row as a dict with its JSON columns decoded (None stays None)."""
    if row is None:
        return None
    data = dict(row)
    for column in JSON_COLUMNS:
        if data.get(column) is not None:
            data[column] = json.loads(data[column])
    return data


def encode_value(column: str, value: Any) -> Any:
    """Return `value` as stored in `column` (JSON text for a JSON column)."""
    return json.dumps(value) if column in JSON_COLUMNS and value is not None else value


def open_sqlite(path: str, *, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (creating it and its folder) an SQLite file for use by many threads, in WAL mode.

    Autocommit (`isolation_level=None`: each statement commits unless a BEGIN is issued), rows
    as `sqlite3.Row`, and a wait of up to `busy_timeout_s` seconds for another connection's
    write lock. The caller guards the connection with its own lock.
    """
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    conn = sqlite3.connect(
        path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
    )
    conn.row_factory = sqlite3.Row
    conn.create_function("casefold", 1, _casefold, deterministic=True)  # Unicode-aware search
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def migrate_desired(conn: sqlite3.Connection) -> None:
    """Rebuild a `sessions` table made before `desired` allowed `moved` (rows are kept).

    SQLite cannot change a CHECK constraint in place: copy into a new table, swap them.
    """
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sessions'"
    ).fetchone()
    if row is None or "'moved'" in row["sql"]:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(SESSIONS_TABLE.format(name="sessions_new"))
        conn.execute(
            f"INSERT INTO sessions_new ({SESSION_COLUMNS}) SELECT {SESSION_COLUMNS} FROM sessions"
        )
        conn.execute("DROP TABLE sessions")
        conn.execute("ALTER TABLE sessions_new RENAME TO sessions")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_TEXT_MATCH = (
    "(casefold(coalesce(json_extract(payload, '$.text'), '')) LIKE ? ESCAPE '\\'"
    " OR casefold(chat_jid) LIKE ? ESCAPE '\\'"
    " OR coalesce(from_phone, '') LIKE ? ESCAPE '\\')"
)


def history_query(
    session_id: str,
    since: int,
    limit: int,
    *,
    before: int = 0,
    newest_first: bool = False,
    direction: str = "",
    query: str = "",
    chat: str = "",
) -> tuple[str, list[object]]:
    """The SELECT of one page of a session's messages (see NodeDatabase.message_page)."""
    where, args = ["session_id = ?", "id > ?"], [session_id, since]
    if chat:
        where.append("chat_jid = ?")
        args.append(chat)
    if before > 0:
        where.append("id < ?")
        args.append(before)
    if direction:
        where.append("direction = ?")
        args.append(direction)
    if query:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", query.casefold()) + "%"
        where.append(_TEXT_MATCH)
        args += [pattern] * 3
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?"
    return sql, [*args, limit]


# A session's traffic in [start, end) for the hourly usage report (NodeDatabase.usage_counts),
# served by the indexes above: sends by `sent_at`, incoming messages by `created_at`.
USAGE_COUNTS_SQL = (
    "SELECT session_id, SUM(direction = 'out') AS sent, SUM(direction = 'in') AS received"
    " FROM (SELECT session_id, direction FROM messages WHERE direction = 'out'"
    " AND state = 'sent' AND sent_at >= ? AND sent_at < ?"
    " UNION ALL SELECT session_id, direction FROM messages WHERE direction = 'in'"
    " AND created_at >= ? AND created_at < ?)"
    " GROUP BY session_id ORDER BY session_id"
)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction of `conn` (opened by `open_sqlite`, so in
    autocommit mode, where the sqlite3 module's own `with conn` opens none): committed at its
    end, rolled back if it raises. The caller holds the connection's lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class OwnTables:
    """A connection of its own to the SQLite file at `path` (created with its folder, by
    `open_sqlite`), with the tables of `SCHEMA` (the subclass's), guarded by `_lock`."""

    SCHEMA = ""
    BUSY_TIMEOUT_S = 10.0

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._conn = open_sqlite(path, busy_timeout_s=self.BUSY_TIMEOUT_S)
        self._conn.executescript(self.SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
