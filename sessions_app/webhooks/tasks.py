"""Celery tasks of the `webhooks` queue; each only calls a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """Make one due attempt of a delivery. Safe to run more than once (the claim decides)."""
    from sessions_app.webhooks.delivery import delivery_attempt

    delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    """Enqueue the deliveries whose next attempt is due (run by beat every few seconds)."""
    from sessions_app.webhooks.delivery import deliveries_sweep
    from sessions_app.webhooks.services import deliveries_enqueue

    return deliveries_sweep(enqueue=deliveries_enqueue)
