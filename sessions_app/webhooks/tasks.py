"""Celery tasks of the `webhooks` queue; each only calls a service."""

from __future__ import annotations

import logging

from celery import shared_task

from sessions_app.webhooks.delivery import deliveries_sweep, delivery_attempt

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """Make one due attempt of a delivery. Safe to run more than once (the claim decides)."""
    delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    """Enqueue the deliveries whose next attempt is due (run by beat every few seconds)."""
    return deliveries_sweep(enqueue=deliveries_enqueue)


def deliveries_enqueue(delivery_ids: list[str]) -> None:
    """Queue one `deliver_webhook` task per id on the `webhooks` queue.

    A broker error is logged, not raised: the sweeper enqueues the delivery again later.
    """
    for delivery_id in delivery_ids:
        try:
            deliver_webhook.delay(delivery_id)
        except Exception:
            logger.exception("could not enqueue webhook delivery %s", delivery_id)
