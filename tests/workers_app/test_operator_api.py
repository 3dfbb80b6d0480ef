"""The operators' node API: session stores, adding, draining, rebalancing and removing nodes."""

from datetime import timedelta

import pytest
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from node_agent.protocol import RESERVED_WORKER_IDS
from sessions_app.sessions.models import Session
from tests.factories import (
    ConnectedSessionFactory,
    OutboundMessageFactory,
    SessionFactory,
    WorkerFactory,
)
from tests.workers_app.nodes import REGISTER
from workers_app.models import Worker

pytestmark = pytest.mark.django_db


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


def test_a_former_nodes_reports_apply_where_it_served(node_api):
    """A message's status applies from the node it was published to, after the session moved on;
    an incoming message only from a node that serves the session, or hands it over."""
    former = WorkerFactory()
    message = OutboundMessageFactory(node_id=former.id)
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
    received = {
        "sessionId": message.session_id,
        "workerId": former.id,
        "message": {
            "id": "3EB0IN",
            "type": "text",
            "from": "6281200000001",
            "timestamp": timezone.now().isoformat(),
            "text": "hi",
        },
    }
    refused = node_api.post("/api/webhooks/message-received", received, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "session_not_found")
    Session.objects.filter(pk=message.session_id).update(moved_from=former.id)
    response = node_api.post("/api/webhooks/message-received", received, format="json")
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


def _node_actions(node):
    """The operator's writes on nodes: [(method, path, body)]."""
    return [
        ("post", "/api/admin/workers", {"workerId": "x", "maxSessions": 1, "engines": ["sandbox"]}),
        ("post", f"/api/admin/workers/{node.id}/drain", None),
        ("post", f"/api/admin/workers/{node.id}/undrain", None),
        ("post", "/api/admin/workers/rebalance", None),
        ("delete", f"/api/admin/workers/{node.id}", None),
    ]


def test_operator_node_actions_need_staff(api):
    node = WorkerFactory(status=Worker.Status.DRAINING)
    for method, path, body in _node_actions(node):
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
    for method, path, body in [("get", "/api/admin/workers", None), *_node_actions(node)]:
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
