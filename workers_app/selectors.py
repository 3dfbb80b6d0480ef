"""Reads for the node registry."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from workers_app.models import Worker
from workers_app.services import heartbeat_deadline


def worker_list() -> QuerySet[Worker]:
    """Return every registered node, ordered by id."""
    return Worker.objects.all()


def workers_online_count() -> int:
    """Return how many nodes are ONLINE with a fresh heartbeat, i.e. could take a session now.

    A node added ahead that never heartbeat, or one silent past the deadline that the sweeper
    has not marked OFFLINE yet, does not count.
    """
    fresh_since = timezone.now() - heartbeat_deadline()
    return Worker.objects.filter(
        status=Worker.Status.ONLINE, last_heartbeat__gte=fresh_since
    ).count()


def sessions_not_on_worker(*, worker_id: str, session_ids: list[str]) -> list[str]:
    """Return the ids in `session_ids` that are not assigned to the node `worker_id`.

    Those moved to another node, lost their node (it was removed) or were deleted: a node that
    still runs them must stop its copy, since two live copies of a WhatsApp session kick each
    other off. Ids come back in the order given.
    """
    from sessions_app.models import Session

    wanted = set(session_ids)
    assigned = set(
        Session.objects.filter(id__in=wanted, worker_id=worker_id).values_list("id", flat=True)
    )
    return [sid for sid in dict.fromkeys(session_ids) if sid not in assigned]
