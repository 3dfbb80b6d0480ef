"""Helpers for tests of nodes sharing one session store: what they reported, moving a session."""

import psycopg

from node_agent.protocol import MESSAGE_STATUS_PATH
from tests.node_agent.node_helpers import outbox_drained, wait_until

UNREACHABLE_URL = "postgres://postgres@127.0.0.1:1/nowhere"
TEXT = {
    "to": "6281200000001",
    "chatId": "6281200000001@s.whatsapp.net",
    "type": "text",
    "text": "hello",
}


def reports_of(backend, session_id, worker_id):
    """Return the statuses a node reported for a session, oldest first."""
    return [s for s, body in backend.statuses(session_id) if body["workerId"] == worker_id]


def message_reports(backend, message_id):
    return backend.bodies(MESSAGE_STATUS_PATH, messageId=message_id)


def credentials_owner(url, session_id):
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT worker_id FROM gateway_node_credentials WHERE session_id = %s", (session_id,)
        ).fetchone()
    return row[0] if row else None


def move(source, target, backend, session_id="s1"):
    """Move a session as the backend does: stop it as moved, start it on `target`."""
    target_id = target.config.worker_id
    outbox_drained(target)
    before = len(reports_of(backend, session_id, target_id))
    source.session_stop(session_id, moved=True)
    target.session_start(session_id, "u1", "sandbox")
    wait_until(
        lambda: "CONNECTED" in reports_of(backend, session_id, target_id)[before:],
        message=f"CONNECTED from {target_id}",
    )
