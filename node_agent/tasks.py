"""Celery tasks the backend sends to `node.<workerId>` (node_agent/protocol.py names them).

Each task is one `node_agent.protocol.NodeTask`: its name comes from there, and its camelCase
keyword arguments are read through it (`from_wire`), as the backend sends them with
`send_task(name, kwargs=..., queue="node.<workerId>")`. Each task only calls the node runtime,
which makes every one safe to run twice (tasks are acknowledged late).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from node_agent import protocol
from node_agent.runtime import NodeRuntime

# message_send retries while the session is not connected: 2, 4, 8, 16, 32, 60 s (+ jitter),
# about two minutes in all, then the message is reported failed `session_not_connected`.

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


def task_options(task: type[protocol.NodeTask], **extra: Any) -> dict[str, Any]:
    """Return the `shared_task` options of a protocol task: its name, and for an RPC task a
    stored result, acknowledged early (the caller waits on the answer with a timeout, so a run
    after a node crash would answer nobody)."""
    if task.rpc:
        extra.update(ignore_result=False, acks_late=False)
    return {"name": task.name, **extra}


@shared_task(**task_options(protocol.SessionStart))
def session_start(**kwargs: Any) -> None:
    """Start a session on this node, or re-report its status if it already runs."""
    task = protocol.SessionStart.from_wire(kwargs)
    if task.calls is not None:  # before the session runs, so its first call is answered so
        get_runtime().chats.store.calls_set(task.session_id, task.calls)
    get_runtime().session_start(
        task.session_id, str(task.user_id), task.engine, task.method, task.phone_number
    )


@shared_task(**task_options(protocol.SessionStop))
def session_stop(**kwargs: Any) -> None:
    """Stop a session, keeping its credentials.

    `moved`: the session now runs on another node, so nothing is reported about it here.
    """
    task = protocol.SessionStop.from_wire(kwargs)
    get_runtime().session_stop(task.session_id, moved=bool(task.moved))


@shared_task(**task_options(protocol.SessionLogout))
def session_logout(**kwargs: Any) -> None:
    """Unlink a session's device and delete its credentials."""
    get_runtime().session_logout(protocol.SessionLogout.from_wire(kwargs).session_id)


@shared_task(**task_options(protocol.SessionDelete))
def session_delete(**kwargs: Any) -> None:
    """Log out, stop and forget a session and its local data."""
    get_runtime().session_delete(protocol.SessionDelete.from_wire(kwargs).session_id)


@shared_task(**task_options(protocol.MessageSend))
def message_send(**kwargs: Any) -> str:
    """Record one message and queue it in its session's send lane (fair, ordered per chat,
    paced by the plan); the lane sends it exactly once and retries while the session is not
    connected. Returns `queued`, the state of a message known here already, or `not_here`
    (nothing recorded) when the session lives on another node."""
    return get_runtime().message_enqueue(protocol.MessageSend.from_wire(kwargs))


@shared_task(**task_options(protocol.MessagesList))
def messages_list(**kwargs: Any) -> list[dict[str, Any]]:
    """Return a session's history from the node's SQLite (see protocol.HISTORY_ITEM_KEYS)."""
    return get_runtime().messages.history(protocol.MessagesList.from_wire(kwargs))


@shared_task(**task_options(protocol.CheckNumber))
def check_number(**kwargs: Any) -> dict[str, Any]:
    """Return `{jid}` (None when not on WhatsApp), `{error: "session_not_connected"}`, or
    `{error: "rate_limited", retryAfterS}` past the session's spacing of checks."""
    return get_runtime().checks.check(protocol.CheckNumber.from_wire(kwargs))


@shared_task(**task_options(protocol.GroupCall))
def group_call(**kwargs: Any) -> dict[str, Any]:
    """Run one group operation of a session (node_agent/group_calls.py): `{result}` or
    `{error, message}`."""
    return get_runtime().groups.call(protocol.GroupCall.from_wire(kwargs))


@shared_task(**task_options(protocol.ContactCall))
def contact_call(**kwargs: Any) -> dict[str, Any]:
    """Run one contact or profile operation of a session (node_agent/contact_calls.py):
    `{result}` or `{error, message}`."""
    return get_runtime().contacts.call(protocol.ContactCall.from_wire(kwargs))


@shared_task(**task_options(protocol.ChatCall))
def chat_call(**kwargs: Any) -> dict[str, Any]:
    """Run one chat or presence operation of a session (node_agent/chat_calls.py): `{result}`
    or `{error, message}`."""
    return get_runtime().chats.call(protocol.ChatCall.from_wire(kwargs))


@shared_task(**task_options(protocol.SandboxAction))
def sandbox_action(**kwargs: Any) -> None:
    """Simulate a phone action on a sandbox session: scan, incoming, logout or disconnect."""
    task = protocol.SandboxAction.from_wire(kwargs)
    get_runtime().sandbox_action(task.session_id, task.action, task.params or {})
