import pytest

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
    monkeypatch.setattr(events, "deliveries_enqueue", lambda ids, event_type=None: None)
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
