"""Unexpected errors in the System log: a 500 answered by web, a task that failed in the backend.

`SystemLogHandler` is a logging handler (see LOGGING in settings) on the loggers that report
them: `django.request` (5xx responses), `gateway.errors` (the API's unhandled exceptions) and
`celery.app.trace` (task failures). Each becomes one ERROR entry, `request.failed` or
`task.failed`, naming the exception's type and where it was raised; never its message or any
request data, which may hold secrets. A 502/503/504 the API answers on purpose (no node online,
a node timeout) is not an error of the gateway and is left out. The entry is written on a
connection of its own (a short thread), so a request's rolled-back transaction cannot take it
along. One request gives one entry even when two loggers report it.
"""

from __future__ import annotations

import logging
import threading
import traceback
from pathlib import Path
from typing import Any

_guard = threading.local()
EVENTS = {"celery.app.trace": "task.failed"}
WRITE_TIMEOUT_S = 5.0


def exception_summary(exc_info: Any) -> dict[str, str]:
    """`{error: "ZeroDivisionError", where: "views.py:42 in post"}` for the innermost frame."""
    if not exc_info or exc_info[0] is None:
        return {}
    frames = traceback.extract_tb(exc_info[2])
    summary = {"error": exc_info[0].__name__}
    if frames:
        last = frames[-1]
        summary["where"] = f"{Path(last.filename).name}:{last.lineno} in {last.name}"
    return summary


def _entry(record: logging.LogRecord) -> dict[str, Any] | None:
    status = getattr(record, "status_code", None)
    if not record.exc_info and status != 500:
        return None  # a 502/503/504 the API answered on purpose (no node, node timeout)
    request = getattr(record, "request", None)
    request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    data: dict[str, Any] = exception_summary(record.exc_info)
    if request is not None:
        if getattr(request, "_system_logged", False):
            return None
        request._system_logged = True
        data.update(method=request.method, path=request.path)
    status = status or (500 if request is not None else None)
    if status is not None:
        data["status"] = status
    event = EVENTS.get(record.name, "request.failed")
    if event == "task.failed":
        data["task"] = _task_name(record)
        text = f"task {data['task']} failed"
    else:
        text = f"{data.get('method', '')} {data.get('path', '')} answered {status}".strip()
    if "error" in data:
        text += f": {data['error']}" + (f" at {data['where']}" if "where" in data else "")
    return {"event": event, "message": text, **data}


def _task_name(record: logging.LogRecord) -> str:
    data = getattr(record, "data", None) or record.args
    data = data if isinstance(data, dict) else {}
    return str(data.get("name", "")) or "unknown"


def _write(entry: dict[str, Any]) -> None:
    from django.db import connection

    from gateway.models import SystemLog, system_log

    try:
        system_log(level=SystemLog.Level.ERROR, **entry)
    finally:
        connection.close()


class SystemLogHandler(logging.Handler):
    """Write ERROR records of the loggers above to the System log; never raises."""

    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_guard, "busy", False):
            return  # an error while writing the entry must not write another
        _guard.busy = True
        try:
            entry = _entry(record)
            if entry is None:
                return
            writer = threading.Thread(target=self._write_quietly, args=(entry,), daemon=True)
            writer.start()
            writer.join(WRITE_TIMEOUT_S)
        except Exception:
            self.handleError(record)
        finally:
            _guard.busy = False

    def _write_quietly(self, entry: dict[str, Any]) -> None:
        _guard.busy = True
        try:
            _write(entry)
        except Exception:  # the database may be what failed; the console log still has it
            pass
