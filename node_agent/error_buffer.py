"""The node's unexpected errors, kept for the next heartbeat, which puts them in the System log.

`ErrorBuffer` is a logging handler (ERROR and above) installed on the node's root logger: a task
that raised (`celery.app.trace`) or any `log.exception` of ours. Each record is kept as
`{logger, message, error, where, at}` where `message` is the log call's template, not the
formatted text (the arguments may hold phone numbers or message text), `error` the exception's
type and `where` its innermost frame. At most `capacity` are kept; older ones are counted in
`dropped`. The heartbeat takes them and puts them back when it could not send them.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CAPACITY = 20


def error_entry(record: logging.LogRecord) -> dict[str, str]:
    """The heartbeat's shape of one error record (see the module docstring)."""
    entry = {
        "logger": record.name[:100],
        "message": str(record.msg)[:200],
        "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
    }
    if record.exc_info and record.exc_info[0] is not None:
        entry["error"] = record.exc_info[0].__name__[:100]
        frames = traceback.extract_tb(record.exc_info[2])
        if frames:
            entry["where"] = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"[:200]
            entry["where"] += f" in {frames[-1].name}"[:100]
    return entry


class ErrorBuffer(logging.Handler):
    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__(logging.ERROR)
        self._entries: deque[dict[str, str]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = error_entry(record)
        except Exception:
            self.handleError(record)
            return
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                self.dropped += 1
            self._entries.append(entry)

    def take(self) -> list[dict[str, str]]:
        """Return and forget every kept error, oldest first."""
        with self._lock:
            entries = list(self._entries)
            self._entries.clear()
            return entries

    def put_back(self, entries: list[dict[str, Any]]) -> None:
        """Keep `entries` (from `take`) again, before any newer ones, within the capacity."""
        with self._lock:
            newer = list(self._entries)
            self._entries.clear()
            self._entries.extend([*entries, *newer][-self._entries.maxlen :])
