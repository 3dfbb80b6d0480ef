from datetime import timedelta

import pytest
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from gateway.models import SystemLog
from node_agent.protocol import RESERVED_WORKER_IDS
from sessions_app.sessions.models import Session
from tests.e2e.stack import free_port
from tests.factories import (
    ConnectedSessionFactory,
    OutboundMessageFactory,
    SessionFactory,
    WorkerFactory,
)
from workers_app.fleet.health import workers_mark_offline
from workers_app.models import Worker
from workers_app.placement import worker_pick
from workers_app.selectors import engines_reachable

pytestmark = pytest.mark.django_db

REGISTER = {
    "workerId": "node-a",
    "endpoint": "node.node-a",
    "maxSessions": 50,
    "engines": ["sandbox", "whatsapp"],
    "version": "0.1.0",
}


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
    SessionFactory(worker=busy)
    SessionFactory(worker=roomy)
    assert worker_pick(engine="sandbox").id == roomy.id
    SessionFactory(worker=busy)  # busy is now full
    for _ in range(8):
        SessionFactory(worker=roomy)
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


# --- Session stores, moves and the operators' node actions --------------------------------------


@pytest.fixture
def operator(user, api):
    user.is_staff = True
    user.save()
    return api


def test_register_records_the_session_store_and_the_operator_sees_it(node_api, operator):
    response = node_api.post(
        "/api/admin/workers/register", {**REGISTER, "sessionStore": "pg-main_1"}, format="json"
    )
    assert response.json()["data"]["sessionStore"] == "pg-main_1"
    assert Worker.objects.get(id="node-a").session_store == "pg-main_1"
    (listed,) = operator.get("/api/admin/workers").json()["data"]
    assert listed["sessionStore"] == "pg-main_1"
    # Without it (an older node): its own store.
    node_api.post("/api/admin/workers/register", REGISTER, format="json")
    assert Worker.objects.get(id="node-a").session_store == ""


def test_register_rejects_a_bad_session_store(node_api):
    for store in ["pg main", "x" * 65, "a/b", "ü"]:
        response = node_api.post(
            "/api/admin/workers/register", {**REGISTER, "sessionStore": store}, format="json"
        )
        assert response.status_code == 400, store
        assert list(response.json()["error"]["fields"]) == ["sessionStore"]
    assert not Worker.objects.exists()


def test_status_report_from_a_node_the_session_left_is_answered_but_not_applied(node_api, user):
    old, current = WorkerFactory(), WorkerFactory()
    session = SessionFactory(owner=user, worker=current, status=Session.Status.RECONNECTING)
    body = {
        "sessionId": session.id,
        "status": "DISCONNECTED",
        "reason": "stopped",
        "workerId": old.id,
        "timestamp": timezone.now().isoformat(),
    }
    response = node_api.post("/api/webhooks/session-status", body, format="json")
    assert response.status_code == 200  # the node's outbox deletes it, nothing to retry
    assert response.json()["data"] == {
        "sessionId": session.id,
        "status": "RECONNECTING",
        "applied": False,
    }
    session.refresh_from_db()
    assert session.status == "RECONNECTING"

    response = node_api.post(
        "/api/webhooks/session-status",
        {**body, "status": "CONNECTED", "workerId": current.id},
        format="json",
    )
    assert response.json()["data"]["applied"] is True
    session.refresh_from_db()
    assert session.status == "CONNECTED"
    # Without workerId (an older node) a report applies as before.
    response = node_api.post(
        "/api/webhooks/session-status",
        {
            "sessionId": session.id,
            "status": "RECONNECTING",
            "timestamp": (timezone.now() + timedelta(seconds=1)).isoformat(),
        },
        format="json",
    )
    assert response.json()["data"] == {
        "sessionId": session.id,
        "status": "RECONNECTING",
        "applied": True,
    }


def test_message_reports_apply_whichever_node_sent_them(node_api):
    message = OutboundMessageFactory()
    former = WorkerFactory()
    response = node_api.post(
        "/api/webhooks/message-status",
        {
            "sessionId": message.session_id,
            "messageId": message.id,
            "status": "sent",
            "workerId": former.id,
            "timestamp": timezone.now().isoformat(),
        },
        format="json",
    )
    assert response.json()["data"]["status"] == "sent"
    response = node_api.post(
        "/api/webhooks/message-received",
        {
            "sessionId": message.session_id,
            "workerId": former.id,
            "message": {
                "id": "3EB0IN",
                "type": "text",
                "from": "6281200000001",
                "timestamp": timezone.now().isoformat(),
                "text": "hi",
            },
        },
        format="json",
    )
    assert response.json()["data"]["accepted"] is True


def test_operator_adds_a_node_ahead_and_a_duplicate_is_409(operator, node_api):
    body = {"workerId": "node-b", "maxSessions": 20, "engines": ["sandbox"]}
    response = operator.post("/api/admin/workers", body, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["workerId"], data["status"], data["lastHeartbeat"]) == ("node-b", "OFFLINE", None)

    response = operator.post("/api/admin/workers", body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "worker_already_exists"

    response = operator.post("/api/admin/workers", {"workerId": "../b"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"

    node_api.post("/api/admin/workers/register", {**REGISTER, "workerId": "node-b"}, format="json")
    assert Worker.objects.get(id="node-b").status == "ONLINE"


def test_operator_node_actions_need_staff(api):
    node = WorkerFactory(status=Worker.Status.DRAINING)
    calls = [
        ("post", "/api/admin/workers", {"workerId": "x", "maxSessions": 1, "engines": ["sandbox"]}),
        ("post", f"/api/admin/workers/{node.id}/drain", None),
        ("post", f"/api/admin/workers/{node.id}/undrain", None),
        ("post", "/api/admin/workers/rebalance", None),
        ("delete", f"/api/admin/workers/{node.id}", None),
    ]
    for method, path, body in calls:
        response = getattr(api, method)(path, body, format="json")
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"
    assert APIClient().post("/api/admin/workers/rebalance").status_code in (401, 403)
    node.refresh_from_db()
    assert node.status == Worker.Status.DRAINING
    assert Worker.objects.count() == 1


def test_operator_drain_undrain_rebalance_and_remove(
    operator, user, worker, broker, django_capture_on_commit_callbacks
):
    worker.session_store = "pg-main"
    worker.save()
    other = WorkerFactory(session_store="pg-main")
    sessions = [ConnectedSessionFactory(owner=user, worker=worker) for _ in range(4)]

    with django_capture_on_commit_callbacks(execute=True):
        drained = operator.post(f"/api/admin/workers/{worker.id}/drain").json()["data"]
    assert drained["status"] == "DRAINING"
    assert drained["stayed"] == 0
    assert {m["sessionId"] for m in drained["moved"]} == {s.id for s in sessions}
    assert {(m["from"], m["to"]) for m in drained["moved"]} == {(worker.id, other.id)}
    assert len(broker.drain(worker.endpoint)) == 4  # the four handovers start on the source

    undrained = operator.post(f"/api/admin/workers/{worker.id}/undrain").json()["data"]
    assert undrained["status"] == "ONLINE"
    Session.objects.update(status=Session.Status.CONNECTED, status_reason="")
    moves = operator.post("/api/admin/workers/rebalance").json()["data"]
    assert len(moves) == 2
    assert {(m["from"], m["to"]) for m in moves} == {(other.id, worker.id)}
    assert operator.post("/api/admin/workers/rebalance").json()["data"] == []

    response = operator.delete(f"/api/admin/workers/{other.id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["deleted"], data["disconnected"], len(data["moved"])) == (True, 0, 2)
    assert set(Session.objects.values_list("worker_id", flat=True)) == {worker.id}
    broker.clear(other.endpoint)

    for method, path in [
        ("post", "/api/admin/workers/ghost/drain"),
        ("post", "/api/admin/workers/ghost/undrain"),
        ("delete", "/api/admin/workers/ghost"),
    ]:
        response = getattr(operator, method)(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "worker_not_found"


def test_session_bound_key_of_a_staff_user_gets_no_operator_powers(user):
    user.is_staff = True
    user.save()
    node = WorkerFactory()
    bound = api_key_create(owner=user, name="one session", session=SessionFactory(owner=user))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {bound.secret}")
    calls = [
        ("get", "/api/admin/workers", None),
        ("post", "/api/admin/workers", {"workerId": "x", "maxSessions": 1, "engines": ["sandbox"]}),
        ("post", f"/api/admin/workers/{node.id}/drain", None),
        ("post", f"/api/admin/workers/{node.id}/undrain", None),
        ("post", "/api/admin/workers/rebalance", None),
        ("delete", f"/api/admin/workers/{node.id}", None),
    ]
    for method, path, body in calls:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert "bound to one session" in error["message"]
    node.refresh_from_db()
    assert node.status == Worker.Status.ONLINE
    assert Worker.objects.count() == 1


def test_staff_user_wide_key_and_dashboard_login_keep_operator_powers(operator, user):
    node = WorkerFactory()
    response = operator.post(f"/api/admin/workers/{node.id}/drain")
    assert response.json()["data"]["status"] == "DRAINING"
    login = APIClient()
    login.force_login(user)
    response = login.post(f"/api/admin/workers/{node.id}/undrain")
    assert response.json()["data"]["status"] == "ONLINE"


BAD_WORKER_IDS = ["node-x\n", "register", "rebalance", "node/4", "x" * 65, "nodé", " node", "-x"]


def test_register_and_create_refuse_the_same_bad_worker_ids(node_api, operator):
    for worker_id in BAD_WORKER_IDS:
        for client, path, body in [
            (node_api, "/api/admin/workers/register", REGISTER),
            (operator, "/api/admin/workers", {"maxSessions": 1, "engines": ["sandbox"]}),
        ]:
            response = client.post(path, {**body, "workerId": worker_id}, format="json")
            assert response.status_code == 400, (path, worker_id)
            error = response.json()["error"]
            assert error["code"] == "validation_error"
            assert list(error["fields"]) == ["workerId"]
    assert not Worker.objects.exists()


def test_register_refuses_a_session_store_with_a_trailing_newline(node_api):
    response = node_api.post(
        "/api/admin/workers/register", {**REGISTER, "sessionStore": "pg-main\n"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["sessionStore"]
    assert not Worker.objects.exists()


def test_reserved_worker_ids_are_the_fixed_segments_of_the_node_routes():
    resolver = get_resolver()
    (include,) = [p for p in resolver.url_patterns if getattr(p, "namespace", "") == "api_workers"]
    routes = [str(pattern.pattern) for pattern in include.url_patterns]
    fixed = {
        route.removeprefix("workers/")
        for route in routes
        if route.startswith("workers/") and "<" not in route
    }
    assert fixed == RESERVED_WORKER_IDS


# Two processes with one WORKER_ID: each sends its own instanceId.

FIRST, SECOND = "a" * 32, "b" * 32
REGISTER_PATH = "/api/admin/workers/register"


def _register_first(node_api, health_url):
    body = {**REGISTER, "instanceId": FIRST, "healthUrl": health_url}
    assert node_api.post(REGISTER_PATH, body, format="json").status_code == 200
    return Worker.objects.get(id="node-a")


def _register_second(node_api):
    body = {**REGISTER, "instanceId": SECOND, "maxSessions": 7, "healthUrl": "http://h2/health"}
    return node_api.post(REGISTER_PATH, body, format="json")


def test_register_refuses_a_second_process_while_the_first_answers(node_api, health_server):
    first = _register_first(node_api, health_server.health_url)
    health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": FIRST})

    response = _register_second(node_api)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "worker_id_in_use"
    assert error["message"].startswith("Another running node already uses this WORKER_ID")
    assert health_server.hits == 1
    worker = Worker.objects.get(id="node-a")
    assert (worker.instance_id, worker.max_sessions, worker.health_url) == (
        FIRST,
        50,
        health_server.health_url,
    )
    assert worker.last_heartbeat == first.last_heartbeat
    assert SystemLog.objects.filter(event="node.id_in_use", worker_id="node-a").exists()


@pytest.mark.parametrize("answers_as", ["nobody", "the new process"])
def test_register_takes_over_from_a_process_that_does_not_answer(
    node_api, health_server, answers_as
):
    # A quick restart: the old process is gone; its port is closed or the new one holds it.
    if answers_as == "nobody":
        _register_first(node_api, f"http://127.0.0.1:{free_port()}/health")
    else:
        _register_first(node_api, health_server.health_url)
        health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": SECOND})

    response = _register_second(node_api)

    assert response.status_code == 200
    worker = Worker.objects.get(id="node-a")
    assert (worker.instance_id, worker.max_sessions) == (SECOND, 7)


@pytest.mark.parametrize("how", ["stale heartbeat", "offline"])
def test_register_does_not_ask_a_node_that_is_already_gone(node_api, health_server, how):
    _register_first(node_api, health_server.health_url)
    health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": FIRST})
    if how == "offline":
        Worker.objects.filter(id="node-a").update(status=Worker.Status.OFFLINE)
    else:
        stale = timezone.now() - timedelta(minutes=10)
        Worker.objects.filter(id="node-a").update(last_heartbeat=stale)

    response = _register_second(node_api)

    assert response.status_code == 200
    assert health_server.hits == 0
    assert Worker.objects.get(id="node-a").instance_id == SECOND


def test_same_process_registers_again_without_being_asked(node_api, health_server):
    _register_first(node_api, health_server.health_url)
    health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": FIRST})

    again = _register_first(node_api, health_server.health_url)

    assert health_server.hits == 0
    assert again.instance_id == FIRST


def test_heartbeat_from_another_process_is_refused_and_not_recorded(node_api, health_server):
    first = _register_first(node_api, health_server.health_url)
    path = "/api/admin/workers/node-a/heartbeat"
    metrics = {"sessionCount": 5, "activeConnections": 4, "cpuUsage": 9.0, "memoryUsage": 9.0}

    response = node_api.put(path, {"instanceId": SECOND, "metrics": metrics}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "worker_id_in_use"
    worker = Worker.objects.get(id="node-a")
    assert (worker.session_count, worker.last_heartbeat) == (0, first.last_heartbeat)
    # Its own process, and a node that sends no instanceId (older), are recorded as before.
    for body in [{"instanceId": FIRST, "metrics": metrics}, {"metrics": metrics}]:
        assert node_api.put(path, body, format="json").status_code == 200
    assert Worker.objects.get(id="node-a").session_count == 5


def test_register_and_heartbeat_reject_a_malformed_instance_id(node_api):
    for bad in ["A" * 32, "a" * 31, "a" * 33, "a" * 32 + "\n", "g" * 32]:
        response = node_api.post(REGISTER_PATH, {**REGISTER, "instanceId": bad}, format="json")
        assert response.status_code == 400, bad
        assert list(response.json()["error"]["fields"]) == ["instanceId"]
    assert not Worker.objects.exists()
    WorkerFactory(id="node-a")
    response = node_api.put(
        "/api/admin/workers/node-a/heartbeat", {"instanceId": "x"}, format="json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("body", [{"workerIds": "x"}, {"workerIds": []}, [1], {"workerIds": [{}]}])
def test_rebalance_refuses_a_malformed_body(operator, body):
    response = operator.post("/api/admin/workers/rebalance", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_rebalance_can_be_limited_to_given_nodes(
    operator, user, broker, django_capture_on_commit_callbacks
):
    full = WorkerFactory(session_store="pg-main")
    empty = WorkerFactory(session_store="pg-main")
    outside = WorkerFactory(session_store="pg-main")
    for _ in range(4):
        ConnectedSessionFactory(owner=user, worker=full)
    for worker in (full, empty, outside):
        broker.clear(worker.endpoint)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            "/api/admin/workers/rebalance", {"workerIds": [full.id, empty.id]}, format="json"
        )

    assert response.status_code == 200
    assert {(m["from"], m["to"]) for m in response.json()["data"]} == {(full.id, empty.id)}
    assert len(response.json()["data"]) == 2
    for worker in (full, empty, outside):
        broker.clear(worker.endpoint)


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
