"""Media by URL (loopback test server), base64 and multipart, and the owner's media route."""

import socket
import time
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.services import api_key_create
from billing.models import PlanOverride
from sessions_app.media.models import MediaFile
from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory
from tests.http_server import QuietHandler, serve
from tests.sessions_app.media.samples import HTML, b64, pdf_bytes, png_bytes

BIG = png_bytes() + bytes(6 * 1024 * 1024)

pytestmark = pytest.mark.usefixtures("media_storage")


class Handler(QuietHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body, delay_s = route
        time.sleep(delay_s)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    Handler.routes = {
        "/cat.png": (200, {"Content-Type": "image/png"}, png_bytes(), 0),
        "/page.html": (200, {"Content-Type": "image/png"}, HTML, 0),
        "/slow.png": (200, {"Content-Type": "image/png"}, png_bytes(), 3),
        "/big.png": (200, {"Content-Type": "image/png"}, BIG, 0),
        "/big-chunked.png": (200, {}, BIG, 0),
        "/r/%E6%96%87%E4%BB%B6.pdf": (200, {}, pdf_bytes(), 0),
        "/redirect": (302, {"Location": "/cat.png"}, b"", 0),
        "/redirect-meta": (302, {"Location": "http://169.254.169.254/x"}, b"", 0),
    }
    with serve(Handler) as httpd:
        yield httpd.url


def send_url(api, session, url, type_="image"):
    return api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "type": type_, "media": {"url": url}},
        format="json",
    )


def test_media_by_url_is_downloaded_and_stored(api, user, server, published):
    session = ConnectedSessionFactory(owner=user)
    response = send_url(api, session, f"{server}/cat.png")
    assert response.status_code == 202, response.json()
    media = published[0]["kwargs"]["payload"]["media"]
    assert media["mimetype"] == "image/png"
    assert media["size"] == len(png_bytes())
    assert media["filename"] == "cat.png"


def test_url_file_name_keeps_its_unicode(api, user, server, published):
    session = ConnectedSessionFactory(owner=user)
    response = send_url(api, session, f"{server}/r/%E6%96%87%E4%BB%B6.pdf", type_="document")
    assert response.status_code == 202, response.json()
    assert published[0]["kwargs"]["payload"]["media"]["filename"] == "文件.pdf"


def test_redirect_to_a_checked_host_is_followed(api, user, server, published):
    session = ConnectedSessionFactory(owner=user)
    assert send_url(api, session, f"{server}/redirect").status_code == 202


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/missing.png", 422, "media_download_failed"),
        ("/slow.png", 422, "media_download_timeout"),
        ("/big.png", 413, "media_too_large"),
        ("/big-chunked.png", 413, "media_too_large"),
        ("/page.html", 422, "media_type_mismatch"),
        ("/redirect-meta", 400, "unsafe_url"),
    ],
)
def test_bad_media_urls_fail_cleanly(api, user, server, published, path, status, code):
    session = ConnectedSessionFactory(owner=user)
    response = send_url(api, session, f"{server}{path}")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert published == []


def test_a_refused_connection_is_a_failed_download_not_a_timeout(api, user, published):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    response = send_url(api, ConnectedSessionFactory(owner=user), f"http://127.0.0.1:{port}/x.png")
    assert (response.status_code, response.json()["error"]["code"]) == (
        422,
        "media_download_failed",
    )
    assert published == []


def test_loopback_url_is_refused_unless_allowed(api, user, server, published, settings):
    settings.ALLOW_PRIVATE_URLS = False
    session = ConnectedSessionFactory(owner=user)
    response = send_url(api, session, f"{server}/cat.png")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "unsafe_url")


def test_base64_too_large_is_413(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {
            "sessionId": session.id,
            "to": "+6281200000001",
            "type": "image",
            "media": {"base64": b64(BIG)},
        },
        format="json",
    )
    assert (response.status_code, response.json()["error"]["code"]) == (413, "media_too_large")


def test_base64_html_as_image_is_422(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {
            "sessionId": session.id,
            "to": "+6281200000001",
            "type": "image",
            "media": {"base64": "data:image/png;base64," + b64(HTML)},
        },
        format="json",
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "media_type_mismatch")


def test_multipart_upload_keeps_the_unicode_file_name(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    name = "Ünïcödé 文件 🧾.pdf"
    response = api.post(
        "/api/v1/messages",
        {
            "sessionId": session.id,
            "to": "+6281200000001",
            "type": "document",
            "text": "Rechnung",
            "file": SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf"),
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    media = published[0]["kwargs"]["payload"]["media"]
    assert media["filename"] == name
    assert published[0]["kwargs"]["payload"]["text"] == "Rechnung"
    download = api.get(f"/api/v1/media/{media['id']}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == pdf_bytes()
    assert "filename*=utf-8''" in download["Content-Disposition"]


def _upload(api, session, name="a.pdf"):
    body = {
        "sessionId": session.id,
        "to": "+6281200000001",
        "type": "document",
        "file": SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf"),
    }
    return api.post("/api/v1/messages", body, format="multipart")


def _stored(settings):
    return sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


@pytest.mark.parametrize("refusal", ["quota", "not_connected", "race"])
def test_a_refused_send_keeps_no_media(api, user, published, settings, refusal):
    session = ConnectedSessionFactory(owner=user)
    PlanOverride.objects.create(user=user, messages_per_day=1)
    assert _upload(api, session, "kept.pdf").status_code == 202  # its file stays
    kept = _stored(settings)
    if refusal == "not_connected":
        PlanOverride.objects.filter(user=user).update(messages_per_day=None)
        Session.objects.filter(pk=session.pk).update(status=Session.Status.QR_REQUIRED)
        expected = (409, "session_not_connected")
    else:
        expected = (429, "quota_exceeded")
    if refusal == "race":  # the quota's standing read passes; its exact count then refuses
        with mock.patch("sessions_app.messages.services.quota_precheck"):
            answer = _upload(api, session, "other.pdf")
    else:
        answer = _upload(api, session, "other.pdf")
    assert (answer.status_code, answer.json()["error"]["code"]) == expected
    assert MediaFile.objects.count() == 1
    assert _stored(settings) == kept
    # The same file as the accepted send, refused: the accepted send's file stays.
    if refusal != "not_connected":
        with mock.patch("sessions_app.messages.services.quota_precheck"):
            assert _upload(api, session, "kept.pdf").status_code == 429
        assert (MediaFile.objects.count(), _stored(settings)) == (1, kept)


def test_multipart_without_file_is_400(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {"sessionId": session.id, "to": "+6281200000001", "type": "image"},
        format="multipart",
    )
    assert response.status_code == 400
    assert "media" in response.json()["error"]["fields"]


def test_media_is_served_to_its_owner_only(api, user, other_user, published):
    session = ConnectedSessionFactory(owner=user)
    api.post(
        "/api/v1/messages",
        {
            "sessionId": session.id,
            "to": "+6281200000001",
            "type": "image",
            "media": {"base64": b64(png_bytes())},
        },
        format="json",
    )
    media = MediaFile.objects.get()
    other = APIClient()
    other.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(owner=other_user, name='o').secret}"
    )
    assert other.get(f"/api/v1/media/{media.id}").status_code == 404
    assert api.get("/api/v1/media/med_doesnotexist").status_code == 404
    assert api.get(f"/api/v1/media/{media.id}").status_code == 200
    # A key bound to another session of the same user does not open it either.
    bound = APIClient()
    second = ConnectedSessionFactory(owner=user)
    key = api_key_create(owner=user, name="bound", session=second).secret
    bound.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bound.get(f"/api/v1/media/{media.id}").status_code == 404
    own = APIClient()
    own.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(owner=user, name='b', session=session).secret}"
    )
    assert own.get(f"/api/v1/media/{media.id}").status_code == 200
