import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from sessions_app.messages.services import message_received_apply
from sessions_app.messages.statuses import message_status_apply
from sessions_app.sessions.services import (
    session_connect,
    session_disconnect,
    session_logout,
    session_status_apply,
)
from sessions_app.webhooks import events
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.events import message_received_emit
from sessions_app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import OutboundMessageFactory, SessionFactory

URL = "http://127.0.0.1:9/hook"


@pytest.fixture(autouse=True)
def _private_ok(settings):
    settings.ALLOW_PRIVATE_URLS = True


@pytest.fixture
def no_enqueue(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "deliveries_enqueue", lambda ids: sent.extend(ids))
    return sent


def test_create_shows_the_secret_once_and_lists_without_it(api):
    response = api.post(
        "/api/v1/webhooks", {"url": URL, "eventTypes": ["message.received"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert data["secret"].startswith("whsec_")
    assert data["eventTypes"] == ["message.received"]
    assert data["sessionId"] is None
    listed = api.get("/api/v1/webhooks").json()["data"]
    assert [w["id"] for w in listed] == [data["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"/api/v1/webhooks/{data['id']}").json()["data"]


def test_private_url_is_refused_with_unsafe_url(api, settings):
    settings.ALLOW_PRIVATE_URLS = False
    response = api.post("/api/v1/webhooks", {"url": URL}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsafe_url"
    assert not WebhookEndpoint.objects.exists()


def test_bad_event_type_is_a_validation_error(api):
    response = api.post("/api/v1/webhooks", {"url": URL, "eventTypes": ["nope"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_another_users_webhook_is_not_found(api, other_user):
    endpoint = endpoint_create(owner=other_user, url=URL, event_types=["*"])
    for method, path in [
        ("get", f"/api/v1/webhooks/{endpoint.id}"),
        ("patch", f"/api/v1/webhooks/{endpoint.id}"),
        ("delete", f"/api/v1/webhooks/{endpoint.id}"),
        ("post", f"/api/v1/webhooks/{endpoint.id}/rotate-secret"),
        ("get", f"/api/v1/webhooks/{endpoint.id}/deliveries"),
    ]:
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "webhook_not_found"
    assert WebhookEndpoint.objects.filter(id=endpoint.id).exists()


def test_patch_disable_enable_rotate_delete(api, user):
    endpoint = endpoint_create(owner=user, url=URL, event_types=["*"])
    path = f"/api/v1/webhooks/{endpoint.id}"
    data = api.patch(path, {"enabled": False}, format="json").json()["data"]
    assert (data["enabled"], data["disabledReason"]) == (False, "Disabled by its owner.")
    data = api.patch(path, {"enabled": True, "eventTypes": ["*"]}, format="json").json()["data"]
    assert (data["enabled"], data["disabledReason"]) == (True, "")
    rotated = api.post(f"{path}/rotate-secret").json()["data"]
    assert rotated["secret"] != endpoint.secret
    assert rotated["previousSecretExpiresAt"]
    assert api.delete(path).json()["data"] == {"id": endpoint.id, "deleted": True}
    assert not WebhookEndpoint.objects.exists()


def test_session_bound_key_sees_only_its_sessions_webhooks(user):
    mine, other = SessionFactory(owner=user), SessionFactory(owner=user)
    key = api_key_create(owner=user, name="bound", session=mine)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    endpoint_create(owner=user, url=URL, event_types=["*"])
    endpoint_create(owner=user, url=URL, event_types=["*"], session=other)
    assert client.get("/api/v1/webhooks").json()["data"] == []
    created = client.post("/api/v1/webhooks", {"url": URL}, format="json").json()["data"]
    assert created["sessionId"] == mine.id
    response = client.post("/api/v1/webhooks", {"url": URL, "sessionId": other.id}, format="json")
    assert response.status_code == 404
    assert [w["id"] for w in client.get("/api/v1/webhooks").json()["data"]] == [created["id"]]


def test_deliveries_list_with_attempts_and_replay(api, user, no_enqueue):
    endpoint = endpoint_create(owner=user, url=URL, event_types=["*"])
    session = SessionFactory(owner=user)
    message_received_emit(session=session, message={"id": "m1", "type": "text"})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(id=delivery.id).update(
        status="failed", completed_at=timezone.now()
    )
    data = api.get(f"/api/v1/webhooks/{endpoint.id}/deliveries").json()["data"]
    assert data[0]["id"] == delivery.id
    assert data[0]["eventType"] == "message.received"
    assert data[0]["payload"]["id"] == data[0]["eventId"]
    assert data[0]["attempts"] == []
    response = api.post(f"/api/v1/webhooks/{endpoint.id}/deliveries/{delivery.id}/replay")
    assert response.status_code == 202
    assert response.json()["data"]["status"] == "pending"
    missing = api.post(f"/api/v1/webhooks/{endpoint.id}/deliveries/whd_nope/replay")
    assert missing.json()["error"]["code"] == "webhook_delivery_not_found"


def test_old_delivery_cannot_be_replayed(api, user, no_enqueue, settings):
    endpoint = endpoint_create(owner=user, url=URL, event_types=["*"])
    message_received_emit(session=SessionFactory(owner=user), message={"id": "m1"})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(id=delivery.id).update(
        created_at=timezone.now() - timezone.timedelta(days=settings.WEBHOOK_REPLAY_WINDOW_DAYS + 1)
    )
    response = api.post(f"/api/v1/webhooks/{endpoint.id}/deliveries/{delivery.id}/replay")
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "replay_window_passed",
    )


def test_schema_documents_webhooks(api):
    schema = api.get("/api/schema/?format=json").content.decode()
    assert "/api/v1/webhooks/{webhook_id}/deliveries" in schema
    assert "MessageStatusEvent" in schema


# --- Events from node reports --------------------------------------------------------------


@pytest.mark.django_db
def test_node_reports_emit_events_once(user, no_enqueue, django_capture_on_commit_callbacks):
    endpoint_create(owner=user, url=URL, event_types=["*"])
    endpoint_create(owner=user, url=URL + "/qr", event_types=["session.qr"])
    session = SessionFactory(owner=user)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        session_status_apply(
            session_id=session.id, status="QR_REQUIRED", timestamp=now, qr_string="2@a"
        )
        session_status_apply(session_id=session.id, status="QR_REQUIRED", timestamp=now)  # stale
        session_status_apply(
            session_id=session.id,
            status="QR_REQUIRED",
            timestamp=now + timezone.timedelta(seconds=1),
            qr_string="2@b",
        )  # QR rotated
    message = OutboundMessageFactory(owner=user, session=session)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            message_status_apply(
                session_id=session.id,
                message_id=message.id,
                status="failed",
                timestamp=now,
                error_code="recipient_not_on_whatsapp",
            )
        for _ in range(2):
            message_received_apply(
                session_id=session.id,
                message={
                    "id": "in1",
                    "type": "image",
                    "media": {"mimetype": "image/png", "base64": "AAAA"},
                },
            )
    events = list(WebhookEvent.objects.order_by("created_at").values_list("type", flat=True))
    # The status changed once; the QR twice (first shown, then rotated): two session.qr.
    assert events == [
        "session.status",
        "session.qr",
        "session.qr",
        "message.status",
        "message.received",
    ]
    failed = WebhookEvent.objects.get(type="message.status").payload["data"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "recipient_not_on_whatsapp"
    received = WebhookEvent.objects.get(type="message.received").payload["data"]
    assert received["message"]["media"] == {"mimetype": "image/png"}
    # `*` gets everything but the QR rotations; the QR endpoint gets only those.
    assert len(no_enqueue) == 3 + 2
    qr = WebhookEvent.objects.filter(type="session.qr").order_by("created_at").last()
    assert qr.payload["data"]["qrString"] == "2@b"
    assert qr.deliveries.get().endpoint.event_types == ["session.qr"]
    status = WebhookEvent.objects.get(type="session.status").payload["data"]
    assert (status["status"], status["qrString"]) == ("QR_REQUIRED", "2@a")


def test_star_leaves_out_qr_rotations_unless_they_are_named(api):
    def create(types):
        body = {"url": URL, "eventTypes": types}
        return api.post("/api/v1/webhooks", body, format="json").json()["data"]["eventTypes"]

    assert create(["*"]) == ["*"]
    assert create(["*", "session.qr", "message.status"]) == ["*", "session.qr"]
    assert create(["session.qr"]) == ["session.qr"]


def test_a_users_connect_disconnect_and_logout_are_session_status_events(
    user, worker, no_enqueue, django_capture_on_commit_callbacks
):
    endpoint_create(owner=user, url=URL, event_types=["session.status"])
    session = SessionFactory(owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        session_connect(owner=user, session=session)
        session_disconnect(owner=user, session=session)
        session_logout(owner=user, session=session)
    told = [
        (event.payload["data"]["status"], event.payload["data"]["reason"])
        for event in WebhookEvent.objects.order_by("created_at")
    ]
    assert told == [
        ("INITIALIZING", None),
        ("DISCONNECTED", "disconnected_by_user"),
        ("LOGGED_OUT", "logged_out_by_user"),
    ]


def test_statuses_and_incoming_messages_take_separate_lanes(
    user, broker, django_capture_on_commit_callbacks
):
    for queue in ("webhooks", "webhooks.status"):
        broker.clear(queue)
    endpoint_create(owner=user, url=URL, event_types=["*"])
    message = OutboundMessageFactory(owner=user, session=SessionFactory(owner=user))
    with django_capture_on_commit_callbacks(execute=True):
        message_status_apply(
            session_id=message.session_id,
            message_id=message.id,
            status="sent",
            timestamp=timezone.now(),
        )
        message_received_apply(session_id=message.session_id, message={"id": "in1"})
    lanes = {queue: broker.drain(queue) for queue in ("webhooks", "webhooks.status")}
    assert [t["task"] for t in lanes["webhooks.status"]] == [
        "sessions_app.webhooks.tasks.deliver_webhooks"
    ]
    assert len(lanes["webhooks"]) == 1
    kinds = {
        queue: WebhookDelivery.objects.get(id=tasks[0]["args"][0][0]).event.type
        for queue, tasks in lanes.items()
    }
    assert kinds == {"webhooks": "message.received", "webhooks.status": "message.status"}


@pytest.mark.django_db(transaction=True)  # the batch's own commit runs the enqueues
def test_a_batch_of_reports_queues_one_task_per_endpoint_and_lane(user, broker, node_api, settings):
    settings.WEBHOOK_TASK_BATCH = 2
    for queue in ("webhooks", "webhooks.status"):
        broker.clear(queue)
    first = endpoint_create(owner=user, url=URL, event_types=["*"])
    second = endpoint_create(owner=user, url=URL + "/two", event_types=["message.status"])
    session = SessionFactory(owner=user)
    messages = [OutboundMessageFactory(owner=user, session=session) for _ in range(3)]
    reports = [
        {
            "path": "/api/webhooks/message-status",
            "body": {
                "sessionId": session.id,
                "messageId": message.id,
                "status": "sent",
                "timestamp": timezone.now().isoformat(),
            },
        }
        for message in messages
    ]
    incoming = {"id": "in1", "from": "1555", "type": "text", "timestamp": "2026-12-02T06:00:00Z"}
    reports.append(
        {
            "path": "/api/webhooks/message-received",
            "body": {"sessionId": session.id, "message": incoming},
        }
    )
    response = node_api.post("/api/webhooks/reports", {"reports": reports}, format="json")
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["data"]["results"]] == [200] * 4, response.json()

    lanes = {queue: broker.drain(queue) for queue in ("webhooks", "webhooks.status")}
    endpoint_of = dict(WebhookDelivery.objects.values_list("id", "endpoint_id"))
    status_tasks = [
        (endpoint_of[t["args"][0][0]], len(t["args"][0])) for t in lanes["webhooks.status"]
    ]
    # Three statuses for each endpoint, in tasks of at most two: 2 + 1 per endpoint.
    assert sorted(status_tasks) == sorted(
        [(first.id, 2), (first.id, 1), (second.id, 2), (second.id, 1)]
    )
    [received] = lanes["webhooks"]
    assert [endpoint_of[i] for i in received["args"][0]] == [first.id]
    for task in lanes["webhooks.status"]:  # each task's deliveries in the order they happened
        created = [WebhookDelivery.objects.get(id=i).created_at for i in task["args"][0]]
        assert created == sorted(created)
