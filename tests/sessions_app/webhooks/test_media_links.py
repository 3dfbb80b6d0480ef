"""Incoming media reach a user's webhook as an authenticated, expiring link to the file."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.models import WebhookEvent
from tests.factories import ConnectedSessionFactory
from tests.sessions_app.media.samples import pdf_bytes, png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]
HOOK = "http://127.0.0.1:9/hook"  # never called: the tests read the stored event


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.PUBLIC_URL = "https://gateway.example.com"


def _upload(node_api, session, data, mimetype, filename):
    """Upload a received file as a node does, answering its descriptor."""
    response = node_api.post(
        "/api/webhooks/media",
        {
            "sessionId": session.id,
            "mimetype": mimetype,
            "filename": filename,
            "file": SimpleUploadedFile("f", data),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def _report(node_api, session, media, message_id="3EB0AA"):
    """Report an incoming media message as the engines write it (`media.id` from the upload)."""
    body = {
        "sessionId": session.id,
        "message": {
            "id": message_id,
            "from": "6281200000001",
            "chatId": "6281200000001@s.whatsapp.net",
            "type": "document",
            "timestamp": "2026-12-02T10:00:00Z",
            "media": media,
        },
    }
    assert node_api.post("/api/webhooks/message-received", body, format="json").status_code == 200
    event = WebhookEvent.objects.get(type="message.received", dedupe_key__endswith=message_id)
    return event.payload["data"]["message"]["media"]


def _path(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_incoming_media_carry_a_link_that_needs_no_key(user, node_api):
    session = ConnectedSessionFactory(owner=user)
    endpoint_create(owner=user, url=HOOK, event_types=["*"])
    stored = _upload(node_api, session, pdf_bytes(), "application/pdf", "Faktur März.pdf")
    media = _report(node_api, session, {"id": stored["id"], "mimetype": "application/pdf"})
    assert media["id"] == stored["id"]
    assert (media["mimetype"], media["size"], media["sha256"], media["filename"]) == (
        "application/pdf",
        len(pdf_bytes()),
        stored["sha256"],
        "Faktur März.pdf",
    )
    assert media["url"].startswith(f"https://gateway.example.com/api/v1/media/{stored['id']}?")
    assert media["urlExpiresAt"]
    response = APIClient().get(_path(media["url"]))  # a receiver has no API key
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes()


def test_a_link_opens_only_its_own_file_and_only_until_it_expires(user, node_api, settings):
    session = ConnectedSessionFactory(owner=user)
    endpoint_create(owner=user, url=HOOK, event_types=["*"])
    first = _upload(node_api, session, pdf_bytes(), "application/pdf", "a.pdf")
    second = _upload(node_api, session, png_bytes(), "image/png", "b.png")
    link = _report(node_api, session, {"id": first["id"]})["url"]
    query = urlsplit(link).query
    anonymous = APIClient()
    assert anonymous.get(f"/api/v1/media/{second['id']}?{query}").status_code == 401
    assert anonymous.get(f"/api/v1/media/{first['id']}?token=forged").status_code == 401
    settings.MEDIA_URL_TTL_S = -1  # every link made before now has expired
    assert anonymous.get(_path(link)).status_code == 401


def test_a_report_naming_another_tenants_file_gets_no_link(user, other_user, node_api):
    theirs = ConnectedSessionFactory(owner=other_user)
    foreign = _upload(node_api, theirs, pdf_bytes(), "application/pdf", "secret.pdf")
    mine = ConnectedSessionFactory(owner=user)
    endpoint_create(owner=user, url=HOOK, event_types=["*"])
    media = _report(node_api, mine, {"id": foreign["id"], "mimetype": "application/pdf"})
    assert "url" not in media
    assert "sha256" not in media


def test_link_lifetime_covers_the_replay_window(settings):
    assert timedelta(seconds=settings.MEDIA_URL_TTL_S) >= timedelta(
        days=settings.WEBHOOK_REPLAY_WINDOW_DAYS
    )
