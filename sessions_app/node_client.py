"""The backend's side of the wire to nodes: Celery tasks published to `node.<workerId>`.

Tasks are published by name, so the backend never imports the node agent's code. Every publish
happens after the surrounding transaction commits (a node must never act on a row that may still
roll back), and a failed publish is logged, not raised: the row is already committed and the
sweeper or the user can try again.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction

from gateway.celery import app
from node_agent.broker import node_queue

logger = logging.getLogger(__name__)

ROUTE_CACHE_TTL_S = 3600


def route_cache_key(session_id: str) -> str:
    return f"route:{session_id}"


def route_set(*, session_id: str, worker_id: str | None) -> None:
    """Cache which node runs a session (PostgreSQL stays the truth)."""
    if worker_id:
        cache.set(route_cache_key(session_id), worker_id, ROUTE_CACHE_TTL_S)
    else:
        cache.delete(route_cache_key(session_id))


def node_publish(*, worker_id: str, task: str, kwargs: dict[str, Any]) -> bool:
    """Publish `node_agent.tasks.<task>` to the node's queue now. Returns False if it failed."""
    try:
        app.send_task(f"node_agent.tasks.{task}", kwargs=kwargs, queue=node_queue(worker_id))
    except Exception:
        logger.exception("publish of %s to node %s failed", task, worker_id)
        return False
    return True


def node_publish_on_commit(*, worker_id: str, task: str, kwargs: dict[str, Any]) -> None:
    """Publish `node_agent.tasks.<task>` to the node's queue once the transaction commits."""
    transaction.on_commit(
        lambda: node_publish(worker_id=worker_id, task=task, kwargs=kwargs), robust=True
    )


def node_call(*, worker_id: str, task: str, kwargs: dict[str, Any], timeout_s: float) -> Any:
    """Run `node_agent.tasks.<task>` on the node and return its JSON result (an RPC).

    Waits at most `timeout_s` seconds on the Celery result backend. Raises NodeTimeout (504)
    when no answer comes in time (the node is down or busy) and NodeRequestFailed (502) when
    the task failed or could not be published.
    """
    from celery.exceptions import TimeoutError as CeleryTimeout

    from sessions_app.errors import NodeRequestFailed, NodeTimeout

    try:
        # The message expires with the wait: a node that comes back later must not do stale work.
        result = app.send_task(
            f"node_agent.tasks.{task}",
            kwargs=kwargs,
            queue=node_queue(worker_id),
            expires=timeout_s,
            ignore_result=False,
        )
    except Exception as exc:
        logger.exception("publish of %s to node %s failed", task, worker_id)
        raise NodeRequestFailed() from exc
    try:
        return result.get(timeout=timeout_s, interval=0.05, propagate=True)
    except CeleryTimeout as exc:
        raise NodeTimeout() from exc
    except Exception as exc:
        logger.warning("node %s failed %s: %s", worker_id, task, exc)
        raise NodeRequestFailed() from exc
    finally:
        try:
            result.forget()
        except Exception:  # a result that never came has nothing to forget
            pass
