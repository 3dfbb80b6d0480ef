"""Issue 13, the edge hardened: deep JSON is a 400, uploads may pass the JSON body cap, and a
key bound to one session gets its own copy of a file another session sent."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.services import api_key_create
from sessions_app.media.models import MediaFile
from tests.factories import ConnectedSessionFactory
from tests.sessions_app.media.samples import b64, png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]

TO = "+6281200000001"


def _deep(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
@pytest.mark.parametrize("field", ["location", "contact", "reaction", "media"])
def test_deep_json_in_a_multipart_field_is_400(api, user, published, field, depth):
    session = ConnectedSessionFactory(owner=user)
    type_ = "image" if field == "media" else field
    body = {"sessionId": session.id, "to": TO, "type": type_, field: _deep(depth)}
    response = api.post("/api/v1/messages", body, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_json"
    assert published == []


@pytest.mark.parametrize("depth", [40, 900, 1000, 100_000])
def test_deep_json_in_a_json_body_is_400(api, user, published, depth):
    session = ConnectedSessionFactory(owner=user)
    body = (
        f'{{"sessionId": "{session.id}", "to": "{TO}", "type": "location", '
        f'"location": {{"latitude": 1, "longitude": 2, "name": {_deep(depth)}}}}}'
    )
    response = api.post("/api/v1/messages", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_json"


def test_json_within_the_depth_limit_still_sends(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    location = json.dumps({"latitude": 1.5, "longitude": 2.5, "name": "Here"})
    body = {"sessionId": session.id, "to": TO, "type": "location", "location": location}
    response = api.post("/api/v1/messages", body, format="multipart")
    assert response.status_code == 202, response.json()


def test_an_upload_route_takes_files_over_the_json_cap(api, user, published, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    session = ConnectedSessionFactory(owner=user)
    upload = SimpleUploadedFile("a.png", png_bytes() + b"\0" * 4096, content_type="image/png")
    body = {"sessionId": session.id, "to": TO, "type": "image", "file": upload}
    response = api.post("/api/v1/messages", body, format="multipart")
    assert response.status_code == 202, response.json()
    assert MediaFile.objects.count() == 1


def test_a_bound_key_gets_its_own_copy_of_a_file_another_session_sent(api, user, published):
    first, second = ConnectedSessionFactory(owner=user), ConnectedSessionFactory(owner=user)
    media = {"base64": b64(png_bytes())}
    sent = api.post(
        "/api/v1/messages",
        {"sessionId": first.id, "to": TO, "type": "image", "media": media},
        format="json",
    )
    assert sent.status_code == 202
    bound = APIClient()
    bound.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(owner=user, name='b', session=second).secret}"
    )
    body = {"to": TO, "type": "image", "media": media}
    again = bound.post("/api/v1/messages", body, format="json")
    assert again.status_code == 202, again.json()
    first_file, second_file = (
        MediaFile.objects.get(session=first),
        MediaFile.objects.get(session=second),
    )
    assert first_file.id != second_file.id
    assert bound.get(f"/api/v1/media/{second_file.id}").status_code == 200
    assert bound.get(f"/api/v1/media/{first_file.id}").status_code == 404


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({f"f{i}": "x" for i in range(1100)}, (400, "too_many_parts")),
        ({"text": "x" * (25 * 1024 * 1024)}, (413, "payload_too_large")),
    ],
    ids=["1100 fields", "a 25 MB text field"],
)
def test_a_form_past_djangos_limits_is_4xx_and_sends_nothing(
    api, user, published, settings, form, expected
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 24 * 1024 * 1024  # the default cap
    session = ConnectedSessionFactory(owner=user)
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": "hi", **form}
    answer = api.post("/api/v1/messages", body, format="multipart")
    assert (answer.status_code, answer.json()["error"]["code"]) == expected
    assert published == []
