"""Media by URL (loopback test server), base64 and multipart; the media routes; node RPCs."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.services import api_key_create
from sessions_app.errors import NodeTimeout
from sessions_app.models import MediaFile
from tests.factories import ConnectedSessionFactory
from tests.sessions_app.media_samples import HTML, b64, pdf_bytes, png_bytes

BIG = png_bytes() + bytes(6 * 1024 * 1024)


class Handler(BaseHTTPRequestHandler):
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

    def log_message(self, *args):
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
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.ALLOW_PRIVATE_URLS = True
    settings.MEDIA_DOWNLOAD_TIMEOUT_S = 1.0


@pytest.fixture
def published():
    calls = []
    with mock.patch(
        "sessions_app.services.node_publish_on_commit",
        side_effect=lambda **kwargs: calls.append(kwargs),
    ):
        yield calls


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


def test_node_fetches_and_uploads_media_with_its_token(api, user, node_api, published):
    session = ConnectedSessionFactory(owner=user)
    upload = node_api.post(
        "/api/webhooks/media",
        {
            "sessionId": session.id,
            "mimetype": "application/pdf",
            "filename": "reçu.pdf",
            "file": SimpleUploadedFile("x", pdf_bytes()),
        },
        format="multipart",
    )
    assert upload.status_code == 201, upload.json()
    descriptor = upload.json()["data"]
    assert descriptor["filename"] == "reçu.pdf"
    assert descriptor["mimetype"] == "application/pdf"
    fetched = node_api.get(f"/api/internal/media/{descriptor['id']}")
    assert b"".join(fetched.streaming_content) == pdf_bytes()
    assert APIClient().get(f"/api/internal/media/{descriptor['id']}").status_code == 401
    # The session's owner sees the received file; the node's descriptor id is the same.
    assert api.get(f"/api/v1/media/{descriptor['id']}").status_code == 200


def test_history_asks_the_node(api, user):
    session = ConnectedSessionFactory(owner=user)
    rows = [{"id": "msg_1", "direction": "out", "cursor": 1}]
    with mock.patch("sessions_app.node_client.node_call", return_value=rows) as call:
        response = api.get(f"/api/v1/sessions/{session.id}/messages?since=5&limit=2")
    assert response.status_code == 200
    assert response.json()["data"] == rows
    assert call.call_args.kwargs["kwargs"] == {"sessionId": session.id, "since": 5, "limit": 2}
    assert call.call_args.kwargs["task"] == "messages_list"


def test_history_node_timeout_is_504(api, user):
    session = ConnectedSessionFactory(owner=user)
    with mock.patch("sessions_app.node_client.node_call", side_effect=NodeTimeout()):
        response = api.get(f"/api/v1/sessions/{session.id}/messages")
    assert (response.status_code, response.json()["error"]["code"]) == (504, "node_timeout")


def test_history_bad_query_is_400(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.get(f"/api/v1/sessions/{session.id}/messages?limit=0&since=x")
    assert response.status_code == 400


def test_history_times_out_on_a_silent_node(api, user, settings):
    """The real RPC path: a node queue nobody consumes answers 504 within the timeout."""
    settings.NODE_RPC_TIMEOUT_S = 0.5
    session = ConnectedSessionFactory(owner=user)
    started = time.monotonic()
    response = api.get(f"/api/v1/sessions/{session.id}/messages")
    assert (response.status_code, response.json()["error"]["code"]) == (504, "node_timeout")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"jid": "6281200000001@s.whatsapp.net"}, True),
        ({"jid": None}, False),
    ],
)
def test_contact_check(api, user, answer, expected):
    session = ConnectedSessionFactory(owner=user)
    with mock.patch("sessions_app.node_client.node_call", return_value=answer):
        response = api.get(
            f"/api/v1/sessions/{session.id}/contacts/check", {"phone": "+62 812-0000-0001"}
        )
    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert (data["phone"], data["onWhatsApp"], data["jid"]) == (
        "6281200000001",
        expected,
        answer["jid"],
    )


def test_contact_check_bad_phone_is_400(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.get(f"/api/v1/sessions/{session.id}/contacts/check", {"phone": "12"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_recipient")
    assert api.get(f"/api/v1/sessions/{session.id}/contacts/check").status_code == 400
