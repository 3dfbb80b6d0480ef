"""Every URL a user gives (webhook create and update, API and dashboard; a media URL in a send,
JSON and multipart) refuses the IPv6 forms that carry an IPv4 address like their IPv4 twins:
as a literal host and as a name that resolves to them."""

import ipaddress
import json
import socket

import pytest

from sessions_app.webhooks.models import WebhookEndpoint
from tests.factories import ConnectedSessionFactory

pytestmark = pytest.mark.django_db

# Forms of loopback and private addresses: refused unless ALLOW_PRIVATE_URLS.
PRIVATE_FORMS = [
    "::127.0.0.1",  # IPv4-compatible
    "::a00:1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:0:127.0.0.1",  # IPv4-translated (SIIT)
    "64:ff9b::127.0.0.1",  # NAT64, well-known prefix
    "64:ff9b::10.0.0.1",
    "64:ff9b:1::a00:1",  # NAT64, local-use prefix
    "2002:7f00:1::1",  # 6to4
    "2002:c0a8:101::",
]
# Forms of 169.254.169.254 (cloud metadata): refused even with ALLOW_PRIVATE_URLS.
METADATA_FORMS = [
    "::169.254.169.254",
    "::ffff:169.254.169.254",
    "::ffff:0:169.254.169.254",
    "64:ff9b::169.254.169.254",
    "64:ff9b:1::169.254.169.254",  # local NAT64, /96
    str(ipaddress.IPv6Address(bytes.fromhex("0064ff9b0001a9fe00a9fe0000000000"))),  # /48
    "2002:a9fe:a9fe::1",
]
CASES = [(form, False) for form in PRIVATE_FORMS + METADATA_FORMS] + [
    (form, True) for form in METADATA_FORMS
]
# Every form through one input; the others share its check (gateway/netsafety.py), so a spread
# of the forms through each of them proves each is wired to it.
WIRING = CASES[::3]
PUBLIC = "93.184.216.34"


@pytest.fixture
def resolver(monkeypatch):
    """Resolve `public.test` and `evil.test` to chosen addresses; anything else as before."""
    answers = {"public.test": PUBLIC}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port or 80))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


@pytest.fixture(params=["literal", "dns"])
def unsafe_url(request, resolver):
    """Build the URL for an address: `http://[addr]/x`, or a name that resolves to it."""

    def build(address):
        if request.param == "literal":
            return f"http://[{address}]/x"
        resolver["evil.test"] = address
        return "http://evil.test/x"

    return build


def _refused(response):
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "unsafe_url"


@pytest.mark.parametrize(("address", "allow_private"), CASES)
def test_webhook_create_refuses(api, settings, unsafe_url, address, allow_private):
    settings.ALLOW_PRIVATE_URLS = allow_private
    _refused(api.post("/api/v1/webhooks", {"url": unsafe_url(address)}, format="json"))
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(("address", "allow_private"), WIRING)
def test_webhook_update_refuses(api, settings, unsafe_url, address, allow_private):
    settings.ALLOW_PRIVATE_URLS = allow_private
    created = api.post("/api/v1/webhooks", {"url": "http://public.test/hook"}, format="json")
    assert created.status_code == 201, created.json()
    path = f"/api/v1/webhooks/{created.json()['data']['id']}"
    _refused(api.patch(path, {"url": unsafe_url(address)}, format="json"))
    assert WebhookEndpoint.objects.get().url == "http://public.test/hook"


@pytest.mark.parametrize(("address", "allow_private"), WIRING)
def test_dashboard_webhook_form_refuses(client, user, settings, unsafe_url, address, allow_private):
    settings.ALLOW_PRIVATE_URLS = allow_private
    client.force_login(user)
    response = client.post("/webhooks", {"url": unsafe_url(address), "event_types": ["*"]})
    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.usefixtures("media_storage")
@pytest.mark.parametrize("multipart", [False, True], ids=["json", "multipart"])
@pytest.mark.parametrize(("address", "allow_private"), WIRING)
def test_media_url_of_a_send_refuses(
    api, user, published, settings, unsafe_url, address, allow_private, multipart
):
    settings.ALLOW_PRIVATE_URLS = allow_private
    session = ConnectedSessionFactory(owner=user)
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "image"}
    media = {"url": unsafe_url(address)}
    if multipart:
        response = api.post("/api/v1/messages", {**body, "media": json.dumps(media)})
    else:
        response = api.post("/api/v1/messages", {**body, "media": media}, format="json")
    _refused(response)
    assert published == []
