"""The routes nodes report to and fetch files from, with the node token."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from node_agent.protocol import MESSAGE_STATUS_PATH, SESSION_STATUS_PATH
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory
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


def test_a_batch_applies_each_report_in_order_and_answers_one_result_each(
    node_api, user, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user)
    message = OutboundMessageFactory(owner=user, session=session)
    t0 = "2026-12-02T10:00:00.000001Z"
    reports = [
        {"path": SESSION_STATUS_PATH, "body": status(session, "RECONNECTING", t0)},
        {"path": MESSAGE_STATUS_PATH, "body": sent(message, "2026-12-02T10:00:00.000002Z")},
        {"path": SESSION_STATUS_PATH, "body": {"sessionId": "ses_nope", "status": "CONNECTED"}},
        {"path": MESSAGE_STATUS_PATH, "body": sent(message, "2026-12-02T10:00:00.000003Z", "x")},
        {"path": SESSION_STATUS_PATH, "body": status(session, "CONNECTED", "2026-12-02T10:00:01Z")},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = node_api.post("/api/webhooks/reports", {"reports": reports}, format="json")
    assert response.status_code == 200, response.json()
    results = response.json()["data"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        (200, ""),
        (200, ""),
        (400, "validation_error"),  # no timestamp
        (404, "message_not_found"),
        (200, ""),
    ]
    session.refresh_from_db()
    message.refresh_from_db()
    assert (session.status, message.status) == ("CONNECTED", "sent")


def test_a_malformed_batch_applies_nothing(node_api, user):
    session = ConnectedSessionFactory(owner=user)
    good = {
        "path": SESSION_STATUS_PATH,
        "body": status(session, "RECONNECTING", "2026-12-02T10:00:00Z"),
    }
    for body in (
        {"reports": []},
        {"reports": [good, {"path": "/api/webhooks/media", "body": {}}]},
        {"reports": [good] * 201},
        {"reports": "x"},
    ):
        response = node_api.post("/api/webhooks/reports", body, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (
            400,
            "validation_error",
        )
    session.refresh_from_db()
    assert session.status == "CONNECTED"
    assert (
        APIClient().post("/api/webhooks/reports", {"reports": [good]}, format="json").status_code
        == 401
    )


def status(session, value, timestamp):
    return {"sessionId": session.id, "status": value, "timestamp": timestamp}


def sent(message, timestamp, message_id=None):
    return {
        "sessionId": message.session_id,
        "messageId": message_id or message.id,
        "status": "sent",
        "waMessageId": "3EB0AA",
        "timestamp": timestamp,
    }


def test_a_batch_of_statuses_moves_each_message_through_every_step_once(
    node_api, user, settings, django_capture_on_commit_callbacks
):
    from billing.models import UsageRecord
    from sessions_app.webhooks.endpoints import endpoint_create
    from sessions_app.webhooks.models import WebhookEvent

    settings.ALLOW_PRIVATE_URLS = True
    endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["message.status"])
    session = ConnectedSessionFactory(owner=user)
    one, two = (OutboundMessageFactory(owner=user, session=session) for _ in range(2))

    def report(message, value, second):
        return {
            "path": MESSAGE_STATUS_PATH,
            "body": {**sent(message, f"2026-12-02T10:00:0{second}Z"), "status": value},
        }

    reports = [
        report(one, "sent", 1),
        report(two, "sent", 1),
        report(one, "delivered", 2),
        report(one, "sent", 3),  # late and out of order: changes nothing
        {"path": MESSAGE_STATUS_PATH, "body": {"messageId": one.id}},  # malformed
        report(one, "read", 4),
        report(two, "failed", 5),  # after sent: a status never goes back to failed
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = node_api.post("/api/webhooks/reports", {"reports": reports}, format="json")

    results = [(r["status"], r["code"]) for r in response.json()["data"]["results"]]
    assert results == [(200, "")] * 4 + [(400, "validation_error")] + [(200, "")] * 2
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, two.status) == ("read", "sent")
    assert (one.sent_at.second, one.delivered_at.second, one.read_at.second) == (1, 2, 4)
    emitted = [
        (e.payload["data"]["messageId"], e.payload["data"]["status"])
        for e in WebhookEvent.objects.order_by("created_at")
    ]
    assert emitted == [
        (one.id, "sent"),
        (two.id, "sent"),
        (one.id, "delivered"),
        (one.id, "read"),
    ]
    [usage] = UsageRecord.objects.filter(kind="message_out")
    assert usage.count == 2  # each message counted once
