"""How long webhook events are kept: WEBHOOK_EVENT_RETENTION_DAYS after they happened, once
none of their deliveries is still pending or sending. Deleting an event deletes its deliveries
and their attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sessions_app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent

PRUNE_BATCH = 2000

D = WebhookDelivery.Status


def events_prune(*, now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` events past the retention; return how many went (the next run
    takes the rest)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    unfinished = WebhookDelivery.objects.filter(status__in=[D.PENDING, D.SENDING])
    ids = list(
        WebhookEvent.objects.filter(created_at__lt=cutoff)
        .exclude(id__in=unfinished.values("event_id"))
        .values_list("id", flat=True)[:batch]
    )
    if not ids:
        return 0
    with transaction.atomic():  # children first: three plain DELETEs, nothing loaded
        WebhookAttempt.objects.filter(delivery__event_id__in=ids).delete()
        WebhookDelivery.objects.filter(event_id__in=ids).delete()
        WebhookEvent.objects.filter(id__in=ids).delete()
    return len(ids)
