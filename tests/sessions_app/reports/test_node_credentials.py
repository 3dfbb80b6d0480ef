"""Per-node credentials: a node's own secret speaks for that node and its sessions only."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from node_agent.protocol import MESSAGE_RECEIVED_PATH, MESSAGE_STATUS_PATH, SESSION_STATUS_PATH
from sessions_app.media.models import MediaFile
from sessions_app.messages.models import OutboundMessage
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, WorkerFactory
from tests.sessions_app.media.samples import pdf_bytes
from tests.workers_app.nodes import REGISTER
from workers_app.credentials import node_credential_issue, node_credential_revoke
from workers_app.models import NodeCredential, node_secret_hash

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]
T0 = "2026-12-04T10:00:00Z"


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def fleet(user):
    """Nodes A and B with a session each; node A's own client."""
    a, b = WorkerFactory(id="node-a"), WorkerFactory(id="node-b")
    issued = node_credential_issue(worker_id="node-a")
    return {
        "a": a,
        "b": b,
        "mine": ConnectedSessionFactory(owner=user, worker=a),
        "theirs": ConnectedSessionFactory(worker=b),
        "client": _client(issued.secret),
        "credential": issued.credential,
    }


def _received(session, worker_id="node-a"):
    message = {"id": "WA1", "type": "text", "from": "6281200000009", "timestamp": T0}
    return {"sessionId": session.id, "workerId": worker_id, "message": message}


def _sent(message, worker_id="node-a"):
    return {
        "sessionId": message.session_id,
        "workerId": worker_id,
        "messageId": message.id,
        "status": "sent",
        "timestamp": T0,
    }


def test_the_secret_is_stored_hashed_and_a_revoked_one_is_401_at_once(fleet):
    client, credential = fleet["client"], fleet["credential"]
    secret = client._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    assert credential.secret_hash == node_secret_hash(secret)
    assert secret not in str(NodeCredential.objects.values_list().get(pk=credential.pk))
    assert client.put("/api/admin/workers/node-a/heartbeat", {}, format="json").status_code == 200
    assert node_credential_revoke(credential_id=credential.pk)
    refused = client.put("/api/admin/workers/node-a/heartbeat", {}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "unauthorized")


def test_a_node_acts_as_itself_only(fleet):
    client = fleet["client"]
    heartbeat = client.put("/api/admin/workers/node-b/heartbeat", {}, format="json")
    assert (heartbeat.status_code, heartbeat.json()["error"]["code"]) == (403, "node_forbidden")
    register = client.post(
        "/api/admin/workers/register", {**REGISTER, "workerId": "node-b"}, "json"
    )
    assert (register.status_code, register.json()["error"]["code"]) == (403, "node_forbidden")
    usage = {"workerId": "node-b", "periodStart": T0, "periodEnd": "2026-12-04T11:00:00Z"}
    usage_answer = client.post("/api/webhooks/usage-report", {**usage, "sessions": []}, "json")
    assert usage_answer.status_code == 403
    batch = {"workerId": "node-b", "reports": [{"path": MESSAGE_RECEIVED_PATH, "body": {}}]}
    assert client.post("/api/webhooks/reports", batch, format="json").status_code == 403


def test_reports_about_another_nodes_session_are_refused_and_change_nothing(
    fleet, django_capture_on_commit_callbacks
):
    client, mine, theirs = fleet["client"], fleet["mine"], fleet["theirs"]
    theirs_message = OutboundMessageFactory(session=theirs, node_id="node-b")
    mine_message = OutboundMessageFactory(session=mine, node_id="node-a")
    forged = client.post("/api/webhooks/message-received", _received(theirs), format="json")
    assert (forged.status_code, forged.json()["error"]["code"]) == (404, "session_not_found")
    status = client.post("/api/webhooks/message-status", _sent(theirs_message), format="json")
    assert (status.status_code, status.json()["error"]["code"]) == (404, "message_not_found")
    claimed = {"sessionId": theirs.id, "workerId": "node-a", "status": "LOGGED_OUT"}
    answer = client.post("/api/webhooks/session-status", {**claimed, "timestamp": T0}, "json")
    # Not applied, and nothing of the session told (its status would leak).
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "session_not_found")
    reports = [
        {"path": MESSAGE_RECEIVED_PATH, "body": _received(theirs)},
        {"path": MESSAGE_STATUS_PATH, "body": _sent(theirs_message)},
        {"path": MESSAGE_STATUS_PATH, "body": _sent(mine_message)},
        {"path": MESSAGE_RECEIVED_PATH, "body": _received(mine)},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        batch = client.post("/api/webhooks/reports", {"reports": reports}, format="json")
    results = [r["status"] for r in batch.json()["data"]["results"]]
    assert results == [404, 404, 200, 200]
    theirs.refresh_from_db()
    assert theirs.status == "CONNECTED"
    assert OutboundMessage.objects.get(pk=theirs_message.pk).status == "queued"
    assert OutboundMessage.objects.get(pk=mine_message.pk).status == "sent"


def test_the_internal_media_routes_serve_only_the_nodes_sessions(fleet):
    client, mine, theirs = fleet["client"], fleet["mine"], fleet["theirs"]

    def upload(session):
        body = {"sessionId": session.id, "file": SimpleUploadedFile("r.pdf", pdf_bytes())}
        return client.post("/api/webhooks/media", body, format="multipart")

    assert upload(theirs).status_code == 404
    assert not MediaFile.objects.filter(session=theirs).exists()
    own = upload(mine)
    assert own.status_code == 201
    assert client.get(f"/api/internal/media/{own.json()['data']['id']}").status_code == 200
    theirs_file = MediaFile.objects.create(
        owner=theirs.owner, session=theirs, mimetype="application/pdf", size=1, sha256="0" * 64
    )
    fetched = client.get(f"/api/internal/media/{theirs_file.id}")
    assert (fetched.status_code, fetched.json()["error"]["code"]) == (404, "media_not_found")


def test_a_handover_and_a_message_published_before_a_move_keep_their_reports(fleet):
    client, theirs = fleet["client"], fleet["theirs"]
    # B takes over a session from A: until it hands over, A still reports it.
    type(theirs).objects.filter(pk=theirs.pk).update(moved_from="node-a")
    assert (
        client.post("/api/webhooks/message-received", _received(theirs), "json").status_code == 200
    )
    # A message A was given still gets A's late `sent`, after the session moved on for good.
    type(theirs).objects.filter(pk=theirs.pk).update(moved_from="")
    given_to_a = OutboundMessageFactory(session=theirs, node_id="node-a")
    assert client.post("/api/webhooks/message-status", _sent(given_to_a), "json").status_code == 200


def test_the_shared_token_still_works_but_a_report_naming_another_node_is_refused(node_api, fleet):
    mine = fleet["mine"]
    wrong = node_api.post("/api/webhooks/message-received", _received(mine, "node-b"), "json")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (404, "session_not_found")
    right = node_api.post("/api/webhooks/message-received", _received(mine), "json")
    assert right.status_code == 200


def test_with_the_shared_token_the_node_a_report_or_its_batch_names_must_serve_it(node_api, fleet):
    theirs = fleet["theirs"]  # on node-b
    message = OutboundMessageFactory(session=theirs, node_id="node-b")
    forged = {**_sent(message, "node-a"), "status": "failed", "error": {"code": "forged"}}
    answer = node_api.post("/api/webhooks/message-status", forged, format="json")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "message_not_found")
    status = {"sessionId": theirs.id, "status": "DISCONNECTED", "timestamp": T0}
    batch = {"workerId": "node-a", "reports": [{"path": SESSION_STATUS_PATH, "body": status}]}
    node_api.post("/api/webhooks/reports", batch, format="json")
    theirs.refresh_from_db()
    assert theirs.status == "CONNECTED"
    assert OutboundMessage.objects.get(pk=message.pk).status == "queued"
    applied = node_api.post("/api/webhooks/message-status", _sent(message, "node-b"), "json")
    assert applied.status_code == 200


def test_a_rotation_keeps_both_valid_until_the_old_one_is_revoked(fleet):
    old = fleet["client"]
    out = io.StringIO()
    call_command("issue_node_credential", worker_id="node-a", stdout=out, stderr=io.StringIO())
    new = _client(out.getvalue().strip().splitlines()[-1])
    for client in (old, new):
        assert client.put("/api/admin/workers/node-a/heartbeat", {}, "json").status_code == 200
    out = io.StringIO()
    call_command(
        "issue_node_credential", worker_id="node-a", revoke_others=True, stdout=out,
        stderr=io.StringIO(),
    )  # fmt: skip
    newest = _client(out.getvalue().strip().splitlines()[-1])
    assert [c.put("/api/admin/workers/node-a/heartbeat", {}, "json").status_code
            for c in (old, new, newest)] == [401, 401, 200]  # fmt: skip


def test_an_operator_issues_a_credential_in_admin_and_sees_its_secret_once(admin_client):
    answer = admin_client.post(
        "/admin/workers_app/nodecredential/add/", {"worker_id": "node-c", "note": "rack 3"},
        follow=True,
    )  # fmt: skip
    assert answer.status_code == 200
    shown = [str(m) for m in answer.context["messages"]]
    secret = next(word for text in shown for word in text.split() if word.startswith("wgn_"))
    credential = NodeCredential.objects.get(worker_id="node-c")
    assert credential.secret_hash == node_secret_hash(secret)
    listing = admin_client.get("/admin/workers_app/nodecredential/").content.decode()
    assert credential.prefix in listing
    assert secret not in listing


@pytest.mark.parametrize("worker_id", ["bad id!", "register"])
def test_admin_refuses_a_credential_for_a_malformed_or_reserved_node_id(admin_client, worker_id):
    answer = admin_client.post("/admin/workers_app/nodecredential/add/", {"worker_id": worker_id})
    assert answer.status_code == 200  # the form again, with its error
    assert answer.context["adminform"].form.errors["worker_id"]
    assert not NodeCredential.objects.filter(worker_id=worker_id).exists()
