"""Reads for the node registry."""

from __future__ import annotations

from django.db.models import QuerySet

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
