"""Reads for the node registry."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from workers_app.models import Worker


def worker_list() -> QuerySet[Worker]:
    """Return every registered node, ordered by id."""
    return Worker.objects.all()


def engines_reachable() -> set[str]:
    """Return the engines some online node offers and reaches the network of (e.g. WhatsApp)."""
    reachable: set[str] = set()
    for engines, unreachable in Worker.objects.online().values_list(
        "engines", "unreachable_engines"
    ):
        reachable |= set(engines) - set(unreachable or [])
    return reachable


def workers_online_count() -> int:
    """Return how many nodes are online (`Worker.objects.online()`), i.e. could take a session."""
    return Worker.objects.online().count()


def worker_metrics_rows() -> list[dict[str, Any]]:
    """Return each node's id, queue (`endpoint`), status, online (by `Worker.objects.online()`)
    and seconds since its last heartbeat (None: never): two queries, for the operators'
    metrics."""
    online = set(Worker.objects.online().values_list("id", flat=True))
    now = timezone.now()
    return [
        {
            "id": worker_id,
            "queue": endpoint,
            "status": status,
            "online": worker_id in online,
            "heartbeat_age_s": (now - beat).total_seconds() if beat else None,
        }
        for worker_id, endpoint, status, beat in Worker.objects.values_list(
            "id", "endpoint", "status", "last_heartbeat"
        )
    ]
