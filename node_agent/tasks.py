"""Celery tasks the backend sends to `node.<workerId>` (DESIGN.md §3.2).

Names are explicit (`node_agent.tasks.<name>`) and kwargs are camelCase JSON, as the backend sends
them with `send_task(name, kwargs=..., queue="node.<workerId>")`. Each task only calls the node
runtime, which makes every one safe to run twice (tasks are acknowledged late).
"""

from __future__ import annotations

import random
from typing import Any

from celery import Task, shared_task

from node_agent.engines.base import TransientSendError
from node_agent.runtime import NodeRuntime

# message_send retries while the session is not connected: 2, 4, 8, 16, 32, 60 s (+ jitter),
# about two minutes in all, then the message is reported failed `session_not_connected`.
MESSAGE_SEND_MAX_RETRIES = 6
MESSAGE_SEND_BACKOFF_CAP_S = 60

_runtime: NodeRuntime | None = None


def bind_runtime(runtime: NodeRuntime | None) -> None:
    """Set the runtime the tasks of this process call (None unbinds)."""
    global _runtime
    _runtime = runtime


def get_runtime() -> NodeRuntime:
    """Return the bound runtime. Raises RuntimeError if the node has not started one."""
    if _runtime is None:
        raise RuntimeError("node runtime not bound: run tasks inside `python -m node_agent`")
    return _runtime


@shared_task(name="node_agent.tasks.session_start")
def session_start(
    sessionId: str,  # noqa: N803 (wire names are camelCase)
    userId: str | int,  # noqa: N803
    engine: str,
    method: str = "qr",
    phoneNumber: str | None = None,  # noqa: N803
) -> None:
    """Start a session on this node, or re-report its status if it already runs."""
    get_runtime().session_start(sessionId, str(userId), engine, method, phoneNumber)


@shared_task(name="node_agent.tasks.session_stop")
def session_stop(sessionId: str, moved: bool = False) -> None:  # noqa: N803
    """Stop a session, keeping its credentials.

    `moved`: the session now runs on another node, so nothing is reported about it here.
    """
    get_runtime().session_stop(sessionId, moved=bool(moved))


@shared_task(name="node_agent.tasks.session_logout")
def session_logout(sessionId: str) -> None:  # noqa: N803
    """Unlink a session's device and delete its credentials."""
    get_runtime().session_logout(sessionId)


@shared_task(name="node_agent.tasks.session_delete")
def session_delete(sessionId: str) -> None:  # noqa: N803
    """Log out, stop and forget a session and its local data."""
    get_runtime().session_delete(sessionId)


@shared_task(bind=True, name="node_agent.tasks.message_send", max_retries=MESSAGE_SEND_MAX_RETRIES)
def message_send(
    self: Task,
    messageId: str,  # noqa: N803
    sessionId: str,  # noqa: N803
    payload: dict[str, Any],
) -> str:
    """Send one message exactly once; retry with back-off while the session is not connected.

    Returns the message's state here; `not_here` (no send, no report, no retry) when the
    session lives on another node. Only TransientSendError retries (session not connected,
    shared session store unreachable).
    """
    runtime = get_runtime()
    final = self.request.retries >= MESSAGE_SEND_MAX_RETRIES
    try:
        return runtime.message_send(messageId, sessionId, payload, final_attempt=final)
    except TransientSendError as exc:
        countdown = min(MESSAGE_SEND_BACKOFF_CAP_S, 2 ** (self.request.retries + 1))
        raise self.retry(
            exc=exc, countdown=countdown + random.uniform(0, 1), queue=runtime.config.queue
        ) from exc


@shared_task(name="node_agent.tasks.messages_list", ignore_result=False, acks_late=False)
def messages_list(
    sessionId: str,  # noqa: N803
    since: int = 0,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Return a session's history from the node's SQLite (an RPC; see NodeRuntime)."""
    return get_runtime().messages_list(sessionId, int(since), int(limit))


@shared_task(name="node_agent.tasks.check_number", ignore_result=False, acks_late=False)
def check_number(sessionId: str, phone: str) -> dict[str, Any]:  # noqa: N803
    """Return `{jid}` (None when not on WhatsApp) or `{error: "session_not_connected"}`."""
    return get_runtime().check_number(sessionId, phone)


@shared_task(name="node_agent.tasks.sandbox_action")
def sandbox_action(
    sessionId: str,  # noqa: N803
    action: str,
    params: dict[str, Any] | None = None,
) -> None:
    """Simulate a phone action on a sandbox session: scan, incoming, logout or disconnect."""
    get_runtime().sandbox_action(sessionId, action, params or {})
