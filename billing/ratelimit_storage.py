"""A `limits` storage in one SQLite file, for the embedded default (no Redis).

The web process's workers, the backend worker and the node agents of one machine share the file,
so a rate is counted once across all of them. Each change runs in an IMMEDIATE transaction, which
SQLite serializes between processes; counters expire like Redis keys do. Registered with `limits`
under the scheme `sqlite`: `sqlite:///path/to/file.sqlite3`. Only what the fixed-window strategy
needs is implemented.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

from limits.storage import Storage

_SCHEMA = "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER, expires REAL)"


class SQLiteStorage(Storage):
    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri.removeprefix("sqlite://")
        self._local = threading.local()

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # A counter lost to a power cut costs a few requests of one window, not data.
            db.execute("PRAGMA synchronous=OFF")
            db.execute(_SCHEMA)
            self._local.db = db
        return db

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        db = self._db()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT value, expires FROM counters WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] <= now:
                value, expires = amount, now + expiry
            else:
                value, expires = row[0] + amount, row[1]
            db.execute(
                "INSERT OR REPLACE INTO counters (key, value, expires) VALUES (?, ?, ?)",
                (key, value, expires),
            )
            if value == amount:  # a new window: drop what expired long ago, now and then
                db.execute("DELETE FROM counters WHERE expires < ?", (now - 3600,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return value

    def _row(self, key: str) -> tuple[int, float] | None:
        row = self._db().execute("SELECT value, expires FROM counters WHERE key = ?", (key,))
        found = row.fetchone()
        return found if found and found[1] > time.time() else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        self._db().execute("SELECT 1")
        return True

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM counters WHERE key = ?", (key,))
