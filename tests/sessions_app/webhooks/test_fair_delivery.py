"""Fair webhooks: a receiver's attempts in flight are capped, and a deduplicated POST verifies
with every registration's secret."""

from __future__ import annotations

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from sessions_app.webhooks.delivery import BUSY, deliveries_attempt, delivery_attempt
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.models import WebhookDelivery
from tests.factories import SessionFactory, UserFactory
from tests.sessions_app.webhooks.receiver import Receiver
from tests.sessions_app.webhooks.test_delivery import _emit, _run_due

D = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_REQUEUE_AFTER_S = 0.0  # the tests act as the worker: enqueue at once


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.mark.django_db(transaction=True)
def test_one_endpoint_past_its_cap_waits_and_another_endpoint_does_not(user, receiver, settings):
    settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = 1
    session = SessionFactory(owner=user)
    endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    for n in range(3):
        _emit(user, session, msg_id=f"m{n}")
    first, second, third = WebhookDelivery.objects.order_by("created_at")
    # A slow attempt of this endpoint is in flight (another worker thread holds it).
    WebhookDelivery.objects.filter(id=first.id).update(status=D.SENDING, claimed_at=timezone.now())
    assert delivery_attempt(delivery_id=second.id) is BUSY
    assert deliveries_attempt(delivery_ids=[second.id, third.id]) == []
    waiting = WebhookDelivery.objects.filter(id__in=[second.id, third.id])
    assert set(waiting.values_list("status", "enqueued_at")) == {
        (D.PENDING, None)
    }  # to the sweeper
    assert receiver.requests == []

    other = UserFactory()
    other_session = SessionFactory(owner=other)
    endpoint_create(owner=other, url=receiver.url + "?b", event_types=["*"])
    _emit(other, other_session, msg_id="b0")
    theirs = WebhookDelivery.objects.get(endpoint__owner=other)
    attempt = delivery_attempt(delivery_id=theirs.id)
    assert attempt is not BUSY
    assert attempt.success

    WebhookDelivery.objects.filter(id=first.id).update(status=D.SUCCEEDED)
    _run_due()
    assert len(receiver.requests) == 3  # the capped endpoint's two, then the other's one


@pytest.mark.django_db(transaction=True)
def test_a_deduplicated_post_verifies_with_each_registrations_secret(user, receiver):
    session = SessionFactory(owner=user)
    oldest = endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    twin = endpoint_create(owner=user, url=receiver.url, event_types=["message.received"])
    endpoint_create(owner=user, url=receiver.url, event_types=["session.status"])  # not this one
    _emit(user, session)
    _run_due()
    (request,) = receiver.requests
    Webhook(oldest.secret).verify(request.body, request.headers)
    Webhook(twin.secret).verify(request.body, request.headers)
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2  # not signed for the registration that does not want it
