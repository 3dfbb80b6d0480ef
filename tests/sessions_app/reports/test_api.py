"""The routes nodes report to and fetch files from, with the node token."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.factories import ConnectedSessionFactory
from tests.sessions_app.media.samples import pdf_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]


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
