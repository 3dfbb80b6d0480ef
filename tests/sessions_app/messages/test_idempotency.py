"""A send repeated with the same Idempotency-Key returns the first message and fetches nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sessions_app.messages.models import OutboundMessage
from tests.factories import ConnectedSessionFactory
from tests.http_server import QuietHandler, serve
from tests.sessions_app.media.samples import pdf_bytes, png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]


class _Counting(QuietHandler):
    """Serves `body` at any path and counts the downloads."""

    body = png_bytes()
    hits = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits += 1
        self.send_body(200, type(self).body, {"Content-Type": "image/png"})


@pytest.fixture
def media_host():
    _Counting.body, _Counting.hits = png_bytes(), 0
    with serve(_Counting) as server:
        yield server


def _send(api, session, key, **fields):
    body = {"sessionId": session.id, "to": "+6281200000001", **fields}
    return api.post("/api/v1/messages", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_repeat_with_a_media_url_returns_the_first_message_without_fetching(
    api, user, media_host, published
):
    session = ConnectedSessionFactory(owner=user)
    media = {"url": f"{media_host.url}/cat.png"}
    first = _send(api, session, "order-1", type="image", media=media, text="A cat")
    assert first.status_code == 202, first.json()
    assert _Counting.hits == 1
    _Counting.body = png_bytes(color="blue")  # the file behind the URL changed meanwhile
    again = _send(api, session, "order-1", type="image", media=media, text="A cat")
    assert again.status_code == 202, again.json()
    assert again.json()["data"]["messageId"] == first.json()["data"]["messageId"]
    assert _Counting.hits == 1
    assert len(published) == 1
    assert OutboundMessage.objects.count() == 1


def test_another_body_under_the_same_key_is_refused_before_anything_is_fetched(
    api, user, media_host, published
):
    session = ConnectedSessionFactory(owner=user)
    media = {"url": f"{media_host.url}/cat.png"}
    assert _send(api, session, "order-2", type="image", media=media).status_code == 202
    other = _send(api, session, "order-2", type="image", media=media, text="A caption now")
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_mismatch")
    assert _Counting.hits == 1
    assert len(published) == 1


def test_a_repeated_upload_is_one_message_and_another_file_under_its_key_is_refused(
    api, user, published
):
    session = ConnectedSessionFactory(owner=user)

    def upload(data):
        form = {
            "sessionId": session.id,
            "to": "+6281200000001",
            "type": "document",
            "file": SimpleUploadedFile("report.pdf", data, content_type="application/pdf"),
        }
        return api.post(
            "/api/v1/messages", form, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1"
        )

    first = upload(pdf_bytes())
    assert first.status_code == 202, first.json()
    again = upload(pdf_bytes())
    assert again.json()["data"]["messageId"] == first.json()["data"]["messageId"]
    changed = upload(pdf_bytes() + b"%% another version\n")
    assert (changed.status_code, changed.json()["error"]["code"]) == (
        422,
        "idempotency_key_mismatch",
    )
    assert len(published) == 1
