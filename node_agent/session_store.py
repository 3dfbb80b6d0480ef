"""The store every node of a cluster shares (SESSION_STORE_URL, PostgreSQL).

It holds what a session needs to move from one node to another without a new scan, and what keeps
a message from being sent twice when its task reaches two nodes:

- `gateway_node_meta`: the store's identity (`store_id`), which each node reports when it
  registers; the backend moves sessions only between nodes reporting the same id.
- `gateway_node_credentials`: each linked session's engine credentials (the sandbox's device key,
  the WhatsApp engine's device JID; whatsmeow's keys live in its own tables, NEONIZE_STORE_URL).
- `gateway_node_sends`: one claim per outbound message (`handed` → `sent` | `failed`).

One connection in autocommit mode behind a lock: every call is one short statement, so the node's
threads take turns on it. A connection that broke (server restart, network) is replaced, and the
call is tried once more on the new one. Every method raises psycopg.Error when the store cannot
be reached; the tables are created on the first connection.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS gateway_node_meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS gateway_node_credentials ("
    " session_id text PRIMARY KEY,"
    " engine text NOT NULL,"
    " credentials jsonb NOT NULL,"
    " worker_id text NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS gateway_node_sends ("
    " message_id text PRIMARY KEY,"
    " session_id text NOT NULL,"
    " worker_id text NOT NULL,"
    " state text NOT NULL CHECK (state IN ('handed', 'sent', 'failed')),"
    " wa_message_id text,"
    " error_code text,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS gateway_node_sends_updated ON gateway_node_sends (updated_at)",
    "CREATE INDEX IF NOT EXISTS gateway_node_sends_wa ON gateway_node_sends (wa_message_id)",
)
# Two nodes creating a table at the same moment: one of them gets a unique violation on
# PostgreSQL's catalog even with IF NOT EXISTS. Trying again then finds the table.
CREATE_RACE_ERRORS = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.DuplicateTable,
    psycopg.errors.DuplicateObject,
)
CREATE_ATTEMPTS = 5


class SharedSessionStore:
    """The shared store at `url` (postgres:// or postgresql://); connects on first use."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._store_id: str | None = None

    def __repr__(self) -> str:
        return "SharedSessionStore(<url hidden>)"  # the URL may hold a password

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        conn = psycopg.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=dict_row
        )
        try:
            if self._store_id is None:
                self._create_tables(conn)
                conn.execute(
                    "INSERT INTO gateway_node_meta (key, value) VALUES ('store_id', %s)"
                    " ON CONFLICT (key) DO NOTHING",
                    (uuid.uuid4().hex,),
                )
                row = conn.execute(
                    "SELECT value FROM gateway_node_meta WHERE key = 'store_id'"
                ).fetchone()
                self._store_id = row["value"] if row else None
                if self._store_id is None:  # deleted between the two statements
                    raise psycopg.OperationalError("the session store lost its store_id")
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _create_tables(conn: psycopg.Connection[dict[str, Any]]) -> None:
        for statement in SCHEMA:
            for attempt in range(1, CREATE_ATTEMPTS + 1):
                try:
                    conn.execute(statement)
                    break
                except CREATE_RACE_ERRORS:
                    if attempt == CREATE_ATTEMPTS:
                        raise
                    log.info("session store: another node is creating its tables, retrying")

    def _run(self, fn: Callable[[psycopg.Connection[dict[str, Any]]], T]) -> T:
        """Run `fn(conn)` on the store's connection, replacing a connection found broken."""
        with self._lock:
            while True:
                fresh = self._conn is None
                if self._conn is None:
                    self._conn = self._connect()
                conn = self._conn
                try:
                    return fn(conn)
                except psycopg.Error:
                    if not (conn.broken or conn.closed):
                        raise  # a statement's own error: the connection is fine
                    self._drop()
                    if fresh:
                        raise
                    log.info("session store connection lost: reconnecting")

    @property
    def store_id(self) -> str:
        """Return the store's identity: a uuid4 hex made by the first node that opened it."""
        if self._store_id is None:
            self._run(lambda conn: None)
        return self._store_id  # type: ignore[return-value]

    # Credentials

    def credentials_save(
        self, session_id: str, engine: str, credentials: dict[str, Any], worker_id: str
    ) -> None:
        """Keep a session's credentials (a JSON-able dict), replacing earlier ones.

        `worker_id` is the node that linked or resumed the session. Safe to repeat.
        """

        def save(conn: psycopg.Connection[dict[str, Any]]) -> None:
            conn.execute(
                "INSERT INTO gateway_node_credentials"
                " (session_id, engine, credentials, worker_id, updated_at)"
                " VALUES (%s, %s, %s, %s, now())"
                " ON CONFLICT (session_id) DO UPDATE SET engine = excluded.engine,"
                " credentials = excluded.credentials, worker_id = excluded.worker_id,"
                " updated_at = excluded.updated_at",
                (session_id, engine, Jsonb(credentials), worker_id),
            )

        self._run(save)

    def credentials_get(self, session_id: str) -> tuple[str, dict[str, Any]] | None:
        """Return `(engine, credentials)` of a session, or None if none are kept."""

        def get(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, Any] | None:
            return conn.execute(
                "SELECT engine, credentials FROM gateway_node_credentials WHERE session_id = %s",
                (session_id,),
            ).fetchone()

        row = self._run(get)
        return (row["engine"], row["credentials"]) if row else None

    def credentials_delete(self, session_id: str) -> None:
        """Forget a session's credentials (logout, delete). Safe to repeat."""
        self._run(
            lambda conn: conn.execute(
                "DELETE FROM gateway_node_credentials WHERE session_id = %s", (session_id,)
            )
        )

    # Send claims

    def send_claim(self, message_id: str, session_id: str, worker_id: str) -> dict[str, Any] | None:
        """Claim an outbound message for `worker_id` (state `handed`); None if claimed now.

        If the message was claimed before, nothing changes and its row comes back:
        `{message_id, session_id, worker_id, state (handed|sent|failed), wa_message_id,
        error_code, updated_at}`. Of two nodes racing, exactly one gets None.
        """

        def claim(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, Any] | None:
            while True:
                inserted = conn.execute(
                    "INSERT INTO gateway_node_sends"
                    " (message_id, session_id, worker_id, state, updated_at)"
                    " VALUES (%s, %s, %s, 'handed', now())"
                    " ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
                    (message_id, session_id, worker_id),
                ).fetchone()
                if inserted:
                    return None
                existing = conn.execute(
                    "SELECT * FROM gateway_node_sends WHERE message_id = %s", (message_id,)
                ).fetchone()
                if existing:
                    return existing
                # Released between the two statements: try to claim it again.

        return self._run(claim)

    def send_done(
        self,
        message_id: str,
        state: str,
        wa_message_id: str | None = None,
        error_code: str | None = None,
    ) -> None:
        """Record a claimed message's outcome: `sent` (with its WhatsApp id) or `failed`.

        `error_code` says why it failed. Raises ValueError for another state. Safe to repeat.
        """
        if state not in ("sent", "failed"):
            raise ValueError(f"send state must be sent or failed, got {state!r}")
        self._run(
            lambda conn: conn.execute(
                "UPDATE gateway_node_sends SET state = %s, wa_message_id = %s, error_code = %s,"
                " updated_at = now() WHERE message_id = %s",
                (state, wa_message_id, error_code, message_id),
            )
        )

    def send_release(self, message_id: str) -> None:
        """Drop a `handed` claim whose send did not happen, so a later try can claim it.

        A claim already `sent` or `failed` stays. Safe to repeat.
        """
        self._run(
            lambda conn: conn.execute(
                "DELETE FROM gateway_node_sends WHERE message_id = %s AND state = 'handed'",
                (message_id,),
            )
        )

    def send_get(self, message_id: str) -> dict[str, Any] | None:
        """Return a message's claim row (as send_claim describes it), or None."""
        return self._run(
            lambda conn: conn.execute(
                "SELECT * FROM gateway_node_sends WHERE message_id = %s", (message_id,)
            ).fetchone()
        )

    def send_get_by_wa(self, wa_message_id: str) -> dict[str, Any] | None:
        """Return the claim row of the message WhatsApp knows as `wa_message_id`, or None.

        A receipt reaches whichever node runs the session now, which may not be the node that
        sent the message. Raises psycopg.Error when the store is unreachable.
        """
        return self._run(
            lambda conn: conn.execute(
                "SELECT * FROM gateway_node_sends WHERE wa_message_id = %s LIMIT 1",
                (wa_message_id,),
            ).fetchone()
        )

    def sends_prune(self, older_than_s: float) -> int:
        """Delete send claims last changed more than `older_than_s` seconds ago; return how many.

        A claim only matters while its message may still be delivered or published again (the
        broker's visibility timeout, the backend's MESSAGE_QUEUED_MAX_AGE_S), so old ones go.
        Raises psycopg.Error when the store is unreachable.
        """
        return self._run(
            lambda conn: conn.execute(
                "DELETE FROM gateway_node_sends"
                " WHERE updated_at < now() - make_interval(secs => %s)",
                (older_than_s,),
            ).rowcount
        )
