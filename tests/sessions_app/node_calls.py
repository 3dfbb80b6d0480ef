"""Helpers of the session RPC API tests (groups, contacts, chats): the node's answer stood in
for at the one place the backend asks (`sessions_app.calls.node_call`), and what was sent."""

from __future__ import annotations

from typing import Any
from unittest import mock


def node_answers(answer: Any) -> Any:
    """Patch the node's answer to every session RPC of the block; yields the mock."""
    return mock.patch("sessions_app.calls.node_call", return_value=answer)


def sent(call: Any, task_name: str) -> tuple[str, dict[str, Any]]:
    """Return (op, params) of the one RPC sent; it must be the task `task_name`."""
    task = call.call_args.kwargs["task"]
    assert task.name == f"node_agent.tasks.{task_name}"
    return task.op, task.params
