import pytest
from django.utils import timezone

from sessions_app.webhooks import events
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.events import message_received_emit
from sessions_app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import SessionFactory

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def page(client, user, settings):
    settings.ALLOW_PRIVATE_URLS = True
    client.force_login(user)
    return client


def test_create_redirects_then_shows_the_secret_once(page, user):
    response = page.post("/webhooks", {"url": URL, "event_types": ["*"]})
    assert response.status_code == 302
    assert response["Location"] == "/webhooks"
    endpoint = WebhookEndpoint.objects.get(owner=user)
    shown = page.get("/webhooks")
    assert endpoint.secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    listed = page.get("/webhooks").content.decode()  # a reload: no second webhook, no secret
    assert URL in listed
    assert endpoint.secret not in listed
    assert WebhookEndpoint.objects.filter(owner=user).count() == 1


def test_unsafe_url_is_shown_as_a_form_error(page, settings):
    settings.ALLOW_PRIVATE_URLS = False
    response = page.post("/webhooks", {"url": URL, "event_types": ["*"]})
    assert response.status_code == 400
    assert "loopback" in response.content.decode()


def test_toggle_rotate_deliveries_replay_delete(page, user, other_user, monkeypatch):
    monkeypatch.setattr(events, "deliveries_enqueue", lambda ids: None)
    endpoint = endpoint_create(owner=user, url=URL, event_types=["*"])
    disabled = page.post(f"/webhooks/{endpoint.id}/toggle", follow=True).content.decode()
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "Webhook disabled." in disabled
    assert "Disabled by its owner." in disabled
    enabled = page.post(f"/webhooks/{endpoint.id}/toggle", follow=True).content.decode()
    assert "Webhook enabled." in enabled
    rotated = page.post(f"/webhooks/{endpoint.id}/rotate", follow=True).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated

    message_received_emit(session=SessionFactory(owner=user), message={"id": "x"})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(id=delivery.id).update(status="failed")
    log = page.get(f"/webhooks/{endpoint.id}/deliveries").content.decode()
    assert delivery.event_id in log
    response = page.post(f"/webhooks/{endpoint.id}/deliveries/{delivery.id}/replay")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending"

    theirs = endpoint_create(owner=other_user, url=URL, event_types=["*"])
    assert page.post(f"/webhooks/{theirs.id}/delete").status_code == 404
    assert page.get(f"/webhooks/{theirs.id}/deliveries").status_code == 404
    page.post(f"/webhooks/{endpoint.id}/delete")
    assert not WebhookEndpoint.objects.filter(owner=user).exists()


def test_the_delivery_log_filters_by_type_and_status_and_shows_payloads(page, user, monkeypatch):
    monkeypatch.setattr(events, "deliveries_enqueue", lambda ids: None)
    endpoint = endpoint_create(owner=user, url=URL, event_types=["*"])
    session = SessionFactory(owner=user)
    message_received_emit(session=session, message={"id": "a", "text": "first one"})
    message_received_emit(session=session, message={"id": "b", "text": "second one"})
    events.session_status_emit(session=session, before=("X", "", ""), timestamp=timezone.now())
    failed = WebhookDelivery.objects.filter(event__payload__data__message__id="b").get()
    WebhookDelivery.objects.filter(id=failed.id).update(status="failed")

    everything = page.get(f"/webhooks/{endpoint.id}/deliveries").content.decode()
    assert everything.count('class="delivery-row"') == 3
    assert "&quot;text&quot;: &quot;first one&quot;" in everything  # the payload as sent
    received = page.get(f"/webhooks/{endpoint.id}/deliveries", {"type": "message.received"})
    assert received.content.decode().count('class="delivery-row"') == 2
    only_failed = page.get(
        f"/webhooks/{endpoint.id}/deliveries", {"type": "message.received", "status": "failed"}
    ).content.decode()
    assert only_failed.count('class="delivery-row"') == 1
    assert "second one" in only_failed
    bad = page.get(f"/webhooks/{endpoint.id}/deliveries", {"status": "bogus"})
    assert bad.status_code == 200  # an unknown filter value shows everything
    assert bad.content.decode().count('class="delivery-row"') == 3


def test_send_test_event_delivers_to_that_webhook_only(
    page, user, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(events, "deliveries_enqueue", queued.append)
    endpoint = endpoint_create(owner=user, url=URL, event_types=["message.status"])
    other = endpoint_create(owner=user, url=URL + "/other", event_types=["*"])

    with django_capture_on_commit_callbacks(execute=True):
        shown = page.post(f"/webhooks/{endpoint.id}/test", follow=True).content.decode()

    [delivery] = WebhookDelivery.objects.all()
    assert delivery.endpoint == endpoint  # even though it did not subscribe to webhook.test
    assert delivery.event.type == "webhook.test"
    assert delivery.event.payload["data"] == {
        "webhookId": endpoint.id,
        "message": "A test event sent from the dashboard.",
    }
    assert queued == [[delivery.id]]
    assert "Test event sent" in shown
    assert not WebhookDelivery.objects.filter(endpoint=other).exists()

    page.post(f"/webhooks/{endpoint.id}/toggle")  # disabled: refused, nothing written
    refused = page.post(f"/webhooks/{endpoint.id}/test", follow=True).content.decode()
    assert "disabled" in refused.lower()
    assert WebhookDelivery.objects.count() == 1
