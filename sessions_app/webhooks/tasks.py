"""Celery tasks of the webhook queues; each only calls a service.

Two lanes: `webhooks` for what a receiver acts on (incoming messages, session statuses) and
`webhooks.status` for message statuses (three per message sent, a flood in a burst). The backend
worker consumes both, taking from each in turn, so an incoming message's webhook never waits
behind a burst's receipts. A task carries the deliveries of one endpoint (up to
WEBHOOK_TASK_BATCH), made in order: publishing and consuming a task per event cost more than
the event's HTTP request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

from celery import shared_task
from django.conf import settings

from sessions_app.webhooks.delivery import deliveries_attempt, deliveries_sweep
from sessions_app.webhooks.models import WebhookDelivery
from sessions_app.webhooks.retention import events_prune

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver_webhooks(delivery_ids: list[str]) -> None:
    """Make the due attempts of deliveries to one endpoint, in order (see deliveries_attempt).
    Safe to run more than once (each claim decides)."""
    deliveries_attempt(delivery_ids=delivery_ids)


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """One delivery: what queues filled before deliveries went in batches still hold."""
    deliveries_attempt(delivery_ids=[delivery_id])


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    """Enqueue the deliveries whose next attempt is due (run by beat every few seconds)."""
    return deliveries_sweep(enqueue=deliveries_enqueue)


@shared_task(ignore_result=True)
def prune_webhook_events() -> int:
    """Delete events past their retention (run by beat hourly)."""
    return events_prune()


QUEUE = "webhooks"
STATUS_QUEUE = "webhooks.status"
_collecting = threading.local()


def delivery_queue(event_type: str) -> str:
    """Return the queue of a delivery of `event_type`: its lane (module docstring)."""
    return STATUS_QUEUE if event_type == "message.status" else QUEUE


@contextlib.contextmanager
def enqueues_coalesced() -> Iterator[None]:
    """Within the block, `deliveries_enqueue` only collects ids; they are queued when it ends
    (after the transaction inside it committed), so a node's batch of reports becomes a task per
    endpoint rather than one per event."""
    if getattr(_collecting, "ids", None) is not None:
        yield  # already collecting: the outer block queues them
        return
    _collecting.ids = []
    try:
        yield
    finally:
        ids, _collecting.ids = _collecting.ids, None
        if ids:
            _publish(ids)


def deliveries_enqueue(delivery_ids: list[str]) -> None:
    """Queue deliveries: one `deliver_webhooks` task per endpoint and lane, at most
    WEBHOOK_TASK_BATCH ids each, in the order given (inside `enqueues_coalesced`, at its end).

    A broker error is logged, not raised: the sweeper enqueues the deliveries again later.
    """
    collected = getattr(_collecting, "ids", None)
    if collected is not None:
        collected.extend(delivery_ids)
    else:
        _publish(delivery_ids)


def _publish(delivery_ids: list[str]) -> None:
    rows = WebhookDelivery.objects.filter(id__in=delivery_ids).values_list(
        "id", "endpoint_id", "event__type"
    )
    found = {
        delivery_id: (delivery_queue(type_), endpoint) for delivery_id, endpoint, type_ in rows
    }
    groups: dict[tuple[str, str], list[str]] = {}
    for delivery_id in dict.fromkeys(delivery_ids):
        if delivery_id in found:
            groups.setdefault(found[delivery_id], []).append(delivery_id)
    size = settings.WEBHOOK_TASK_BATCH
    for (queue, _endpoint), ids in groups.items():
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            try:
                deliver_webhooks.apply_async((chunk,), queue=queue)
            except Exception:
                logger.exception("could not enqueue %d webhook deliveries", len(chunk))
