"""Answering a session's RPC calls (groups, contacts) on a node: the one way an operation is
looked up, run on the engine that holds the session, and its refusals turned into answers."""

from __future__ import annotations

import binascii
import logging
from collections.abc import Callable, Mapping
from typing import Any

from node_agent import protocol
from node_agent.engines.base import CallRefused, Engine, holding_engine

log = logging.getLogger(__name__)

Handler = Callable[[Any, Engine, str, dict[str, Any]], Any]


def answer_call(
    owner: Any,
    ops: Mapping[str, Handler],
    *,
    db: Any,
    engines: Mapping[str, Engine],
    session_id: str,
    op: str,
    params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Run `ops[op](owner, engine, session_id, params)` on the engine holding the session.

    Returns `{"result": ...}`, or `{"error": code, "message": str}`: `session_not_connected`
    (no engine here holds the session), `bad_request` (an unknown operation, or parameters the
    handler refused with KeyError, TypeError or ValueError), or a CallRefused's code. Never
    raises for a refusal.
    """
    engine = holding_engine(engines, db.session_get(session_id, full=False))
    if engine is None:
        return {"error": protocol.NOT_CONNECTED, "message": "Session is not running here."}
    handler = ops.get(op)
    if handler is None:
        return {"error": "bad_request", "message": f"unknown operation {op!r}"}
    try:
        return {"result": handler(owner, engine, session_id, dict(params or {}))}
    except CallRefused as exc:
        return {"error": exc.code, "message": exc.message}
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        log.warning("%s of %s: bad parameters: %s", op, session_id, exc)
        return {"error": "bad_request", "message": f"bad parameters: {exc}"}


class SessionCalls:
    """Answers one kind of session RPC (a protocol.SessionCall: groups, contacts, chats) with
    the engine that holds the session. A subclass sets `_db` and `_engines` and gives its
    operations in `_ops()`."""

    _db: Any
    _engines: Mapping[str, Engine]

    def _ops(self) -> Mapping[str, Handler]:
        raise NotImplementedError

    def call(self, task: protocol.SessionCall) -> dict[str, Any]:
        """Run one operation; return its answer (`answer_call`). Never raises for a refusal."""
        return answer_call(
            self,
            self._ops(),
            db=self._db,
            engines=self._engines,
            session_id=task.session_id,
            op=task.op,
            params=task.params,
        )
