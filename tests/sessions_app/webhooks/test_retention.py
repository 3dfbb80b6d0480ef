"""Events are pruned after their retention, once none of their deliveries may still go out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.webhooks import events
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from sessions_app.webhooks.retention import events_prune
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_urls(settings):
    settings.ALLOW_PRIVATE_URLS = True


def _events(user, monkeypatch, n):
    monkeypatch.setattr(events, "deliveries_enqueue", lambda ids: None)
    endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["*"])
    session = SessionFactory(owner=user)
    for i in range(n):
        events.message_received_emit(session=session, message={"id": f"wa{i}", "text": "x"})
    return list(WebhookEvent.objects.order_by("created_at"))


def test_prune_deletes_old_finished_events_with_their_deliveries_and_attempts(
    user, monkeypatch, settings
):
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    old_done, old_pending, recent = _events(user, monkeypatch, 3)
    WebhookEvent.objects.filter(id__in=[old_done.id, old_pending.id]).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    done = WebhookDelivery.objects.get(event=old_done)
    WebhookDelivery.objects.filter(id=done.id).update(status="succeeded")
    WebhookAttempt.objects.create(delivery=done, number=1, started_at=timezone.now(), duration_ms=3)
    WebhookDelivery.objects.filter(event=recent).update(status="succeeded")

    assert events_prune() == 1
    assert set(WebhookEvent.objects.values_list("id", flat=True)) == {old_pending.id, recent.id}
    assert not WebhookDelivery.objects.filter(id=done.id).exists()
    assert not WebhookAttempt.objects.exists()
    assert events_prune() == 0


def test_prune_goes_in_batches(user, monkeypatch, settings):
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    _events(user, monkeypatch, 5)
    WebhookDelivery.objects.update(status="failed")
    WebhookEvent.objects.update(created_at=timezone.now() - timedelta(days=40))
    assert [events_prune(batch=2) for _ in range(4)] == [2, 2, 1, 0]
