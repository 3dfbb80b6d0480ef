"""Celery tasks of the webhook queues; each only calls a service.

Two lanes: `webhooks` for what a receiver acts on (incoming messages, session statuses) and
`webhooks.status` for message statuses (three per message sent, a flood in a burst). The backend
worker consumes both, taking from each in turn, so an incoming message's webhook never waits
behind a burst's receipts.
"""

from __future__ import annotations

import logging

from celery import shared_task

from sessions_app.webhooks.delivery import deliveries_sweep, delivery_attempt
from sessions_app.webhooks.models import WebhookDelivery
from sessions_app.webhooks.retention import events_prune

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """Make one due attempt of a delivery. Safe to run more than once (the claim decides)."""
    delivery_attempt(delivery_id=delivery_id)


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


def delivery_queue(event_type: str) -> str:
    """Return the queue of a delivery of `event_type`: its lane (module docstring)."""
    return STATUS_QUEUE if event_type == "message.status" else QUEUE


def deliveries_enqueue(delivery_ids: list[str], event_type: str | None = None) -> None:
    """Queue one `deliver_webhook` task per id, on its event type's lane.

    Without `event_type` (the sweep's mixed ids) each delivery's is looked up, in one query.
    A broker error is logged, not raised: the sweeper enqueues the delivery again later.
    """
    if event_type is None:
        types = dict(
            WebhookDelivery.objects.filter(id__in=delivery_ids).values_list("id", "event__type")
        )
    for delivery_id in delivery_ids:
        queue = delivery_queue(event_type or types.get(delivery_id, ""))
        try:
            deliver_webhook.apply_async((delivery_id,), queue=queue)
        except Exception:
            logger.exception("could not enqueue webhook delivery %s", delivery_id)
