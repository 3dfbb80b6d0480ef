"""A node with its own credential, on real processes: it links and sends; revoked, its reports
wait in its outbox; restarted with a new credential, they arrive, and the message went once."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.stack import wait_for
from workers_app.credentials import node_credential_issue, node_credential_revoke

pytestmark = pytest.mark.django_db(transaction=True)
NODE = "e2e-own-1"


def _send(api, sid: str, text: str) -> str:
    body = {"sessionId": sid, "to": "+6281200000001", "type": "text", "text": text}
    return api.ok("POST", "/api/v1/messages", json=body)["messageId"]


def _status(api, message_id: str) -> str:
    return api.ok("GET", f"/api/v1/messages/{message_id}")["status"]


def test_a_node_on_its_own_credential_and_a_revoked_one_loses_nothing(make_cluster):
    first = node_credential_issue(worker_id=NODE)
    # No shared token: the node's own secret is the only way in.
    cluster = make_cluster({NODE: {"BACKEND_AUTH_TOKEN": first.secret}}, WORKER_AUTH_TOKEN="")
    api = cluster.api
    sid = api.link_sandbox("own")
    sent = _send(api, sid, "one")
    wait_for(lambda: _status(api, sent) in ("sent", "delivered", "read"), timeout_s=30, what="sent")

    node_credential_revoke(credential_id=first.credential.pk)
    waiting = _send(api, sid, "two")  # the node still gets it from the broker and sends it
    node_db = cluster.stack.tmp / f"node-{NODE}.sqlite3"

    def outbox_waiting() -> bool:
        with sqlite3.connect(f"file:{node_db}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] > 0

    wait_for(outbox_waiting, timeout_s=30, what="the refused reports kept in the outbox")
    assert _status(api, waiting) == "queued"  # its `sent` waits in the node's outbox

    second = node_credential_issue(worker_id=NODE)
    cluster.stack.stop(f"node:{NODE}")
    cluster.start_node(NODE, BACKEND_AUTH_TOKEN=second.secret)
    wait_for(
        lambda: _status(api, waiting) in ("sent", "delivered", "read"),
        timeout_s=60,
        what="the waiting report applied",
    )
    history = api.ok("GET", f"/api/v1/sessions/{sid}/messages", params={"direction": "out"})
    texts = [m["content"].get("text") for m in history]
    assert texts.count("two") == 1  # sent once, though its report came after a restart
