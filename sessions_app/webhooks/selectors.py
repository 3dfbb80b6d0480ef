"""Reads for webhook endpoints and deliveries, scoped to their owner (another's is not found)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from accounts.models import ApiKey, User
from sessions_app.errors import WebhookDeliveryNotFound, WebhookNotFound
from sessions_app.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


def endpoint_list(*, owner: User, api_key: ApiKey | None = None) -> QuerySet[WebhookEndpoint]:
    """Return the owner's endpoints, oldest first; a session-bound key sees only its session's."""
    endpoints = WebhookEndpoint.objects.for_owner(owner)
    if api_key is not None and api_key.session_id:
        endpoints = endpoints.filter(session_id=api_key.session_id)
    return endpoints


def endpoint_get(
    *, owner: User, endpoint_id: str, api_key: ApiKey | None = None
) -> WebhookEndpoint:
    """Return one of the owner's endpoints. Raises WebhookNotFound (also for another's)."""
    endpoint = endpoint_list(owner=owner, api_key=api_key).filter(id=endpoint_id).first()
    if endpoint is None:
        raise WebhookNotFound()
    return endpoint


def delivery_list(
    *,
    endpoint: WebhookEndpoint,
    status: str | None = None,
    event_type: str | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """Return an endpoint's newest deliveries with their event and attempts (two queries more),
    optionally only those in `status` or of `event_type`."""
    deliveries = endpoint.deliveries.select_related("event").prefetch_related(
        Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number"))
    )
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    return list(deliveries.order_by("-created_at")[:limit])


def event_list(
    *,
    owner: User,
    session_id: str | None = None,
    event_type: str | None = None,
    after: datetime | None = None,
    limit: int = 50,
) -> list[WebhookEvent]:
    """Return the owner's newest stored events (see webhooks.monitor), newest first; only those
    created after `after` when given."""
    events = WebhookEvent.objects.filter(owner=owner)
    if session_id:
        events = events.filter(session_id=session_id)
    if event_type:
        events = events.filter(type=event_type)
    if after is not None:
        events = events.filter(created_at__gt=after)
    return list(events.order_by("-created_at", "-id")[:limit])


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: str) -> WebhookDelivery:
    """Return one delivery of `endpoint`. Raises WebhookDeliveryNotFound."""
    delivery = endpoint.deliveries.select_related("event").filter(id=delivery_id).first()
    if delivery is None:
        raise WebhookDeliveryNotFound()
    return delivery
