"""Inputs a fresh-user test found to cause 500s, jams or injections; each stays fixed."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sessions_app.errors import MediaDownloadTimeout
from sessions_app.media.models import MediaFile
from sessions_app.media.sources import download
from sessions_app.messages.payloads import vcard_of
from tests.factories import ConnectedSessionFactory
from tests.http_server import QuietHandler, serve
from tests.sessions_app.media.samples import b64, png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]


def _send(api, session, **fields):
    body = {"sessionId": session.id, "to": "+6281200000001", **fields}
    return api.post("/api/v1/messages", body, format="json")


@pytest.mark.parametrize("latitude", ["NaN", "1.5", True, None, [1], 10**400, -(10**400)])
def test_location_needs_a_finite_json_number(api, user, published, latitude):
    session = ConnectedSessionFactory(owner=user)
    response = _send(api, session, type="location", location={"latitude": latitude, "longitude": 1})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert published == []


def test_nan_location_over_multipart_is_400(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {
            "sessionId": session.id,
            "to": "+6281200000001",
            "type": "location",
            "location": '{"latitude": NaN, "longitude": 0}',
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert published == []


def test_a_bad_declared_mimetype_is_ignored_not_kept(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    response = _send(
        api,
        session,
        type="document",
        media={"base64": b64(png_bytes()), "mimetype": "text/html\nX-Evil: 1"},
    )
    assert response.status_code == 202, response.json()
    media = MediaFile.objects.get()
    assert media.mimetype == "image/png"
    download_response = api.get(f"/api/v1/media/{media.id}")
    assert download_response.status_code == 200
    assert download_response["Content-Type"] == "image/png"


def test_overlong_upload_file_name_is_400(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    response = api.post(
        "/api/v1/messages",
        {
            "sessionId": session.id,
            "to": "+6281200000001",
            "type": "document",
            "file": SimpleUploadedFile("a.png", png_bytes(), content_type="image/png"),
            "filename": "x" * 300 + ".png",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_media"
    assert not MediaFile.objects.exists()


def test_history_since_beyond_64_bits_is_400(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.get(f"/api/v1/sessions/{session.id}/messages?since=99999999999999999999999")
    assert response.status_code == 400


def test_vcard_names_cannot_inject_lines():
    card = vcard_of("Bu\ndi\r\nEND:VCARD\nBEGIN:VCARD;x,y", "6281200000001")
    assert card.count("\n") == 4  # BEGIN, VERSION, FN, TEL, END: five lines
    assert card.splitlines()[2] == "FN:Bu\\ndi\\nEND:VCARD\\nBEGIN:VCARD\\;x\\,y"


class _Drip(QuietHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        try:
            for _ in range(100):  # 4 bytes every 0.2 s: each read is "on time"
                self.wfile.write(b"\x89PNG")
                self.wfile.flush()
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass


def test_a_dripping_media_url_is_cut_at_the_deadline(settings):
    settings.ALLOW_PRIVATE_URLS = True
    settings.MEDIA_DOWNLOAD_TIMEOUT_S = 1.0
    with serve(_Drip) as httpd:
        started = time.monotonic()
        with pytest.raises(MediaDownloadTimeout):
            download(f"{httpd.url}/drip.png", type_="image")
        # Bounded by the deadline, not by the 20 s the server would keep dripping.
        assert time.monotonic() - started < 10
