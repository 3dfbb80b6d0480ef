"""Reads for the node registry."""

from __future__ import annotations

from django.db.models import QuerySet

from workers_app.models import Worker


def worker_list() -> QuerySet[Worker]:
    """Return every registered node, ordered by id."""
    return Worker.objects.all()


def workers_online_count() -> int:
    """Return how many nodes are ONLINE."""
    return Worker.objects.filter(status=Worker.Status.ONLINE).count()
