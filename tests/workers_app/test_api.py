"""The node API: register, heartbeat and the reports a node sends."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gateway.models import SystemLog
from sessions_app.sessions.models import Session
from tests.factories import OutboundMessageFactory, SessionFactory, WorkerFactory
from tests.workers_app.nodes import REGISTER
from workers_app.fleet.health import workers_mark_offline
from workers_app.models import Worker
from workers_app.placement import worker_pick
from workers_app.selectors import engines_reachable

pytestmark = pytest.mark.django_db


def test_node_endpoints_refuse_a_wrong_token():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer wrong")
    for path in ["/api/admin/workers/register", "/api/webhooks/session-status"]:
        response = client.post(path, {}, format="json")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert not Worker.objects.exists()


def test_register_then_heartbeat(node_api):
    response = node_api.post("/api/admin/workers/register", REGISTER, format="json")
    assert response.status_code == 200
    worker = Worker.objects.get(id="node-a")
    assert (worker.status, worker.endpoint, worker.max_sessions) == ("ONLINE", "node.node-a", 50)
    response = node_api.put(
        "/api/admin/workers/node-a/heartbeat",
        {
            "status": "ONLINE",
            "metrics": {
                "sessionCount": 3,
                "cpuUsage": 12.5,
                "memoryUsage": 40.1,
                "activeConnections": 2,
            },
        },
        format="json",
    )
    assert response.status_code == 200
    worker.refresh_from_db()
    assert (worker.session_count, worker.cpu_usage, worker.active_connections) == (3, 12.5, 2)


def test_heartbeat_of_unknown_node_is_404(node_api):
    response = node_api.put("/api/admin/workers/ghost/heartbeat", {"metrics": {}}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "worker_not_found"


def test_register_rejects_bad_body(node_api):
    response = node_api.post(
        "/api/admin/workers/register", {"workerId": "../x", "engines": []}, format="json"
    )
    assert response.status_code == 400
    assert {"workerId", "engines", "maxSessions"} <= set(response.json()["error"]["fields"])


def test_stale_nodes_are_marked_offline_and_logged(settings):
    settings.WORKER_HEARTBEAT_INTERVAL = 10
    fresh = WorkerFactory(last_heartbeat=timezone.now())
    stale = WorkerFactory(last_heartbeat=timezone.now() - timedelta(seconds=31))
    assert workers_mark_offline() == [stale.id]
    assert workers_mark_offline() == []
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == ("OFFLINE", "ONLINE")
    assert SystemLog.objects.filter(event="node.offline", worker_id=stale.id).count() == 1


def test_placement_prefers_free_capacity_and_skips_full_or_unsuitable_nodes():
    busy = WorkerFactory(max_sessions=2)
    roomy = WorkerFactory(max_sessions=10)
    WorkerFactory(engines=["whatsapp"], max_sessions=100)  # lacks the sandbox engine
    WorkerFactory(status=Worker.Status.DRAINING, max_sessions=100)
    SessionFactory(worker=busy, status=Session.Status.CONNECTED)
    SessionFactory(worker=roomy, status=Session.Status.CONNECTED)
    assert worker_pick(engine="sandbox").id == roomy.id
    SessionFactory(worker=busy, status=Session.Status.CONNECTED)  # busy is now full
    for _ in range(8):
        SessionFactory(worker=roomy, status=Session.Status.CONNECTED)
    assert worker_pick(engine="sandbox").id == roomy.id


def test_session_status_webhook_stores_qr_then_connected(node_api, worker):
    session = SessionFactory(worker=worker, status=Session.Status.INITIALIZING)
    now = timezone.now()
    response = node_api.post(
        "/api/webhooks/session-status",
        {
            "sessionId": session.id,
            "status": "qr_required",
            "qrString": "2@ref,a,b,c",
            "qrExpiresAt": (now + timedelta(seconds=60)).isoformat(),
            "timestamp": now.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == "QR_REQUIRED"
    assert session.qr_code.startswith("data:image/png;base64,")
    response = node_api.post(
        "/api/webhooks/session-status",
        {
            "sessionId": session.id,
            "status": "CONNECTED",
            "phoneNumber": "15550001111",
            "timestamp": (now + timedelta(seconds=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.status, session.phone_number, session.qr_code) == (
        "CONNECTED",
        "15550001111",
        "",
    )
    assert SystemLog.objects.filter(event="session.connected", session_id=session.id).exists()


def test_session_status_webhook_for_unknown_session_is_404(node_api):
    response = node_api.post(
        "/api/webhooks/session-status",
        {
            "sessionId": "ses_missing",
            "status": "CONNECTED",
            "timestamp": timezone.now().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 404


def test_message_status_webhook_applies_and_is_idempotent(node_api):
    message = OutboundMessageFactory()
    body = {
        "sessionId": message.session_id,
        "messageId": message.id,
        "waMessageId": "3EB0AA",
        "status": "delivered",
        "timestamp": timezone.now().isoformat(),
    }
    for _ in range(2):
        response = node_api.post("/api/webhooks/message-status", body, format="json")
        assert response.status_code == 200
    response = node_api.post(
        "/api/webhooks/message-status", {**body, "status": "sent"}, format="json"
    )
    assert response.json()["data"]["status"] == "delivered"


def test_message_status_webhook_rejects_bad_status(node_api):
    message = OutboundMessageFactory()
    response = node_api.post(
        "/api/webhooks/message-status",
        {
            "sessionId": message.session_id,
            "messageId": message.id,
            "status": "queued",
            "timestamp": timezone.now().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400


def test_operator_api_needs_staff(api, user):
    assert api.get("/api/admin/workers").status_code == 403
    user.is_staff = True
    user.save()
    WorkerFactory(id="node-z")
    response = api.get("/api/admin/workers")
    assert response.status_code == 200
    assert [w["workerId"] for w in response.json()["data"]] == ["node-z"]
    assert api.post("/api/admin/workers/node-z/drain").json()["data"]["status"] == "DRAINING"


def test_heartbeat_rejects_out_of_range_metrics(node_api):
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    for metrics in ['{"cpuUsage": 1e309}', '{"memoryUsage": 101}', '{"sessionCount": 1e23}']:
        response = node_api.put(
            "/api/admin/workers/node-a/heartbeat",
            '{"metrics": ' + metrics + "}",
            content_type="application/json",
        )
        assert response.status_code == 400, metrics
    assert Worker.objects.get(id="node-a").cpu_usage == 0.0


def test_node_asks_to_drain_and_comes_back_online_after_reregistering(node_api):
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    response = node_api.put(
        "/api/admin/workers/node-a/heartbeat", {"status": "DRAINING", "metrics": {}}, format="json"
    )
    assert response.json()["data"]["status"] == "DRAINING"
    with pytest.raises(Exception, match="No node"):
        worker_pick(engine="sandbox")
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    assert Worker.objects.get(id="node-a").status == "ONLINE"


def test_operator_drain_survives_reregistration(node_api):
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    from workers_app.fleet.operations import worker_drain

    worker_drain(worker_id="node-a")
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    assert Worker.objects.get(id="node-a").status == "DRAINING"


def test_register_and_heartbeat_answer_which_running_sessions_moved(node_api, user):
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    other = WorkerFactory()
    mine = SessionFactory(owner=user, worker_id="node-a", status=Session.Status.DISCONNECTED)
    moved = SessionFactory(owner=user, worker=other, status=Session.Status.CONNECTED)
    running = [mine.id, moved.id, "ses_deleted0000000000"]

    response = node_api.post(
        "/api/admin/workers/register", {**REGISTER, "runningSessions": running}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["data"]["stopSessions"] == [moved.id, "ses_deleted0000000000"]

    response = node_api.put(
        "/api/admin/workers/node-a/heartbeat",
        {"status": "ONLINE", "metrics": {}, "runningSessions": running},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["data"]["stopSessions"] == [moved.id, "ses_deleted0000000000"]

    response = node_api.post("/api/admin/workers/register", REGISTER, format="json")
    assert response.json()["data"]["stopSessions"] == []


def test_a_heartbeats_errors_go_to_the_system_log(node_api):
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    error = {
        "logger": "celery.app.trace",
        "message": "Task %(name)s[%(id)s] %(description)s: %(exc)s",
        "error": "KeyError",
        "where": "runtime.py:12 in message_send",
        "at": "2026-12-02T06:00:00+00:00",
    }
    response = node_api.put(
        "/api/admin/workers/node-a/heartbeat",
        {"metrics": {}, "errors": [error, {**error, "error": "", "where": ""}]},
        format="json",
    )
    assert response.status_code == 200
    entries = SystemLog.objects.filter(event="node.error").order_by("id")
    assert [(e.level, e.worker_id) for e in entries] == [("ERROR", "node-a")] * 2
    assert entries[0].message == (
        "Node node-a: Task %(name)s[%(id)s] %(description)s: %(exc)s: KeyError"
        " at runtime.py:12 in message_send"
    )
    assert entries[0].data == error
    assert entries[1].message == "Node node-a: Task %(name)s[%(id)s] %(description)s: %(exc)s"


def test_a_heartbeat_with_too_many_or_malformed_errors_is_refused(node_api):
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    many = [{"logger": "x", "message": "m", "at": "2026-12-02T06:00:00Z"}] * 51
    for errors in (many, [{"logger": "x"}], "nope"):
        response = node_api.put(
            "/api/admin/workers/node-a/heartbeat", {"metrics": {}, "errors": errors}, format="json"
        )
        assert response.status_code == 400, errors
        assert response.json()["error"]["code"] == "validation_error"
    assert not SystemLog.objects.filter(event="node.error").exists()


def test_a_heartbeat_records_which_engines_cannot_reach_their_network(node_api):
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    beat = {"metrics": {}, "unreachableEngines": ["whatsapp"]}
    assert (
        node_api.put("/api/admin/workers/node-a/heartbeat", beat, format="json").status_code == 200
    )
    assert Worker.objects.get(id="node-a").unreachable_engines == ["whatsapp"]
    assert engines_reachable() == {"sandbox"}
    # A heartbeat that does not say (an older node) keeps what was known.
    empty = {"metrics": {}}
    assert (
        node_api.put("/api/admin/workers/node-a/heartbeat", empty, format="json").status_code == 200
    )
    assert Worker.objects.get(id="node-a").unreachable_engines == ["whatsapp"]
    beat["unreachableEngines"] = []
    node_api.put("/api/admin/workers/node-a/heartbeat", beat, format="json")
    assert engines_reachable() == {"sandbox", "whatsapp"}
