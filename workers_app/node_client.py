"""The backend's side of the wire to nodes: tasks of `node_agent.protocol` published to
`node.<workerId>`.

Tasks are published by name and built with the protocol's classes, so the backend never imports
the node agent's code. Every publish happens after the surrounding transaction commits (a node
must never act on a row that may still roll back), and a failed publish is logged, not raised:
the row is already committed and the sweeper or the user can try again.

The queue comes from the session row the caller already holds (`session.worker_id`); PostgreSQL
is the only record of where a session runs. A route cache would save no query and could still
send a task to the node a session just moved away from.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.db import transaction

from gateway.celery import app
from node_agent.protocol import NodeTask, SessionStart, SessionStop, node_queue
from workers_app.errors import NodeRequestFailed, NodeTimeout

logger = logging.getLogger(__name__)


def node_publish(*, worker_id: str, task: NodeTask, expires_s: float | None = None) -> bool:
    """Publish `task` to the node's queue now. Returns False if it failed (logged).

    `expires_s`: a node that gets the task later than that (it was down) discards it.
    """
    try:
        # ignore_result: else Celery subscribes to a result channel for every fire-and-forget
        # task (and, with Redis down, waits out the result store's reconnects on each one).
        app.send_task(
            task.name,
            kwargs=task.to_wire(),
            queue=node_queue(worker_id),
            ignore_result=True,
            expires=expires_s,
            # Celery would otherwise copy a repr of the arguments (a message's text among them)
            # into the task's headers, for worker logs and monitors: not needed, not wanted,
            # and it was a tenth of the send path's publish.
            argsrepr="()",
            kwargsrepr="{...}",
        )
    except Exception:
        logger.exception("publish of %s to node %s failed", task.name, worker_id)
        return False
    return True


def node_publish_on_commit(
    *, worker_id: str, task: NodeTask, expires_s: float | None = None
) -> None:
    """Publish `task` to the node's queue once the surrounding transaction commits."""
    transaction.on_commit(
        lambda: node_publish(worker_id=worker_id, task=task, expires_s=expires_s), robust=True
    )


def node_handoff(*, source_id: str, target_id: str, start: SessionStart) -> bool:
    """Publish a session's handover now: `session_stop(moved)` on the source, then `start`.

    One Celery chain: the stop goes to the source node's queue and carries the start (to the
    target's queue) as its link, which the source publishes once the stop has run. So the target
    never starts the session while the source still runs it (two live copies of a WhatsApp
    session kick each other off). The start is immutable: it does not take the stop's result as
    an argument. Both expire after SESSION_START_TIMEOUT_S, when the backend gives the move up
    (`start_timeout`): a source node that was down does not replay an old handover when it
    comes back. Returns False if publishing failed (logged).
    """
    stop = SessionStop(session_id=start.session_id, moved=True)
    first = app.signature(
        stop.name,
        kwargs=stop.to_wire(),
        queue=node_queue(source_id),
        ignore_result=True,
        expires=settings.SESSION_START_TIMEOUT_S,
    )
    then = app.signature(
        start.name,
        kwargs=start.to_wire(),
        queue=node_queue(target_id),
        immutable=True,
        ignore_result=True,
        expires=settings.SESSION_START_TIMEOUT_S,
    )
    try:
        (first | then).apply_async()
    except Exception:
        logger.exception(
            "handover of %s from %s to %s failed", start.session_id, source_id, target_id
        )
        return False
    return True


def node_handoff_on_commit(*, source_id: str, target_id: str, start: SessionStart) -> None:
    """Publish a session's handover (see `node_handoff`) once the transaction commits."""
    transaction.on_commit(
        lambda: node_handoff(source_id=source_id, target_id=target_id, start=start), robust=True
    )


def node_call(*, worker_id: str, task: NodeTask, timeout_s: float) -> Any:
    """Run an RPC task (`task.rpc`) on the node and return its JSON answer.

    Waits at most `timeout_s` seconds on the Celery result backend. Raises NodeTimeout (504)
    when no answer comes in time (the node is down or busy) and NodeRequestFailed (502) when
    the task failed or could not be published.
    """
    try:
        # The message expires with the wait: a node that comes back later must not do stale work.
        result = app.send_task(
            task.name,
            kwargs=task.to_wire(),
            queue=node_queue(worker_id),
            expires=timeout_s,
            ignore_result=False,
        )
    except Exception as exc:
        logger.exception("publish of %s to node %s failed", task.name, worker_id)
        raise NodeRequestFailed() from exc
    try:
        return result.get(timeout=timeout_s, interval=0.05, propagate=True)
    except CeleryTimeout as exc:
        raise NodeTimeout() from exc
    except Exception as exc:
        logger.warning("node %s failed %s: %s", worker_id, task.name, exc)
        raise NodeRequestFailed() from exc
    finally:
        try:
            result.forget()
        except Exception:  # a result that never came has nothing to forget
            pass
