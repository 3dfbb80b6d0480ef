"""The device stores: where whatsmeow keeps each session's device keys (measured on neonize 0.5.2).

By default one SQLite file per session, `SESSION_STORAGE_PATH/<sessionId>.sqlite3`; with
NEONIZE_STORE_URL one PostgreSQL database for every session (whatsmeow's `whatsmeow_*` tables,
a device per row), which lets a session move between nodes. Not to be confused with the node's
own database (database.py) or the cluster's shared session store (session_store.py).
"""

from __future__ import annotations

import os

import psycopg

from node_agent.config import NodeConfig

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
CONNECT_TIMEOUT_S = 5


class DeviceStore:
    """The device stores of one node, as its config says."""

    def __init__(self, config: NodeConfig) -> None:
        self._url = config.neonize_store_url
        self._folder = config.session_storage_path

    @property
    def shared(self) -> bool:
        """Return True when every session's keys are in one PostgreSQL database."""
        return bool(self._url)

    def name(self, session_id: str) -> str:
        """Return what neonize opens for a session: its SQLite path or the PostgreSQL URL."""
        if self._url:
            return self._url
        return os.path.join(self._folder, f"{session_id}.sqlite3")

    def prepare(self) -> None:
        """Create the SQLite files' folder (nothing to do for PostgreSQL)."""
        if not self._url:
            os.makedirs(self._folder, exist_ok=True)

    def file_exists(self, session_id: str) -> bool:
        """Return True if a session's SQLite file exists (always False with PostgreSQL)."""
        return not self._url and os.path.exists(self.name(session_id))

    def has_device(self, device_jid: str) -> bool:
        """Return True if the PostgreSQL store holds `device_jid` (exact, with device part).

        Resuming a JID the store lacks crashes the process (measured on neonize 0.5.2). Raises
        psycopg.Error when the store cannot be reached.
        """
        with psycopg.connect(self._url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            try:
                row = conn.execute(
                    "SELECT 1 FROM whatsmeow_device WHERE jid = %s", (device_jid,)
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return False  # whatsmeow never ran on this store: it holds no device
        return row is not None

    def delete(self, session_id: str) -> None:
        """Delete a session's SQLite file (with its WAL and journal). Safe to repeat.

        With PostgreSQL nothing: whatsmeow deletes the device row itself on logout.
        """
        if self._url:
            return
        path = self.name(session_id)
        for suffix in SQLITE_SUFFIXES:
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
