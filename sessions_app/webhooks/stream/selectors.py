"""Reads of the event stream (sync: the stream calls them in a thread). An event's position is
(created_at, id): events are read in that order, and a resume point is the position of the
event a client saw last."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from sessions_app.webhooks.models import WebhookEvent

Position = tuple[datetime, str]
# What the stream needs of an event: (id, owner_id, session_id, type, payload, created_at).
FIELDS = ("id", "owner_id", "session_id", "type", "payload", "created_at")
Row = dict[str, Any]


def _after(position: Position) -> Q:
    created_at, event_id = position
    return Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=event_id)


def events_new(after: Position, limit: int) -> list[Row]:
    """Return up to `limit` events of every owner after `after`, in order."""
    rows = WebhookEvent.objects.filter(_after(after)).order_by("created_at", "id")
    return list(rows.values(*FIELDS)[:limit])


def events_ids_between(start: datetime, end: Position) -> list[str]:
    """Return the ids of the events from `start` up to `end` (included): what a late commit may
    have added behind the stream's position."""
    rows = WebhookEvent.objects.filter(created_at__gte=start).exclude(_after(end))
    return list(rows.values_list("id", flat=True))


def events_by_id(ids: list[str]) -> list[Row]:
    """Return the events of `ids`, in order."""
    rows = WebhookEvent.objects.filter(id__in=ids).order_by("created_at", "id")
    return list(rows.values(*FIELDS))


def event_position(*, owner_id: int, event_id: str) -> Position | None:
    """Return the position of the owner's event `event_id`, or None (unknown, pruned, or
    another owner's)."""
    row = WebhookEvent.objects.filter(owner_id=owner_id, id=event_id).values_list(
        "created_at", "id"
    )
    found = row.first()
    return (found[0], found[1]) if found else None


def events_of_owner_after(
    *, owner_id: int, session_id: str | None, after: Position, limit: int
) -> list[Row]:
    """Return up to `limit` of the owner's events after `after`, in order; with `session_id`
    only that session's."""
    rows = WebhookEvent.objects.filter(_after(after), owner_id=owner_id)
    if session_id is not None:
        rows = rows.filter(session_id=session_id)
    return list(rows.order_by("created_at", "id").values(*FIELDS)[:limit])
