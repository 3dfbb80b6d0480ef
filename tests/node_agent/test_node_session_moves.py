"""Sessions that move between nodes sharing one session store (SESSION_STORE_URL)."""

import psycopg
import pytest

from node_agent import tasks
from node_agent.__main__ import start_sessions
from node_agent.engines.base import TransientSendError
from node_agent.protocol import (
    MESSAGE_RECEIVED_PATH,
    MESSAGE_STATUS_PATH,
    REGISTER_PATH,
    SESSION_STATUS_PATH,
)
from node_agent.runtime import NodeRuntime
from tests.node_agent.node_helpers import (
    connect,
    network_of,
    node_heartbeat,
    outbox_drained,
    wait_until,
)
from tests.node_agent.shared_store import (
    TEXT,
    UNREACHABLE_URL,
    credentials_owner,
    message_reports,
    move,
    reports_of,
)


def test_session_connected_on_one_node_resumes_on_another_without_a_scan(
    node, backend, shared, session_store_url
):
    a = node("node-a")
    connected = connect(a, backend, phone="6281200000201")
    assert connected["workerId"] == "node-a"
    device = network_of(a).device_get("s1")
    assert shared.credentials_get("s1") == (
        "sandbox",
        {
            "phoneNumber": "6281200000201",
            "jid": "6281200000201@s.whatsapp.net",
            "deviceKey": device["device_key"],
        },
    )
    assert credentials_owner(session_store_url, "s1") == "node-a"
    outbox_drained(a)
    reported_by_a = reports_of(backend, "s1", "node-a")

    b = node("node-b")
    move(a, b, backend)

    assert reports_of(backend, "s1", "node-b") == ["INITIALIZING", "CONNECTED"]  # no QR
    (body,) = [
        b for s, b in backend.statuses("s1") if s == "CONNECTED" and b["workerId"] == "node-b"
    ]
    assert body["phoneNumber"] == "6281200000201"
    assert b.engines["sandbox"].is_running("s1")
    assert not a.engines["sandbox"].is_running("s1")
    assert b.db.session_get("s1")["credentials"]["deviceKey"] == device["device_key"]
    assert credentials_owner(session_store_url, "s1") == "node-b"
    assert network_of(b).device_get("s1")["device_key"] == device["device_key"]  # same device
    outbox_drained(a)
    assert reports_of(backend, "s1", "node-a") == reported_by_a


def test_logout_on_the_new_node_deletes_the_shared_credentials(node, backend, shared):
    a, b = node("node-a"), node("node-b")
    connect(a, backend, phone="6281200000202")
    move(a, b, backend)

    b.session_logout("s1")

    assert shared.credentials_get("s1") is None
    assert network_of(b).device_get("s1") is None
    wait_until(lambda: "LOGGED_OUT" in reports_of(backend, "s1", "node-b"), message="LOGGED_OUT")
    # Back on its first node, the session links afresh: A's old credentials are not used.
    outbox_drained(a)
    before = len(reports_of(backend, "s1", "node-a"))
    a.session_start("s1", "u1", "sandbox")
    wait_until(
        lambda: "QR_REQUIRED" in reports_of(backend, "s1", "node-a")[before:], message="QR on A"
    )
    assert "LOGGED_OUT" not in reports_of(backend, "s1", "node-a")[before:]


def test_phone_logout_deletes_the_shared_credentials(node, backend, shared):
    a = node("node-a")
    connect(a, backend, phone="6281200000203")
    a.sandbox_action("s1", "logout", {})
    wait_until(lambda: "LOGGED_OUT" in reports_of(backend, "s1", "node-a"), message="LOGGED_OUT")
    assert shared.credentials_get("s1") is None


def test_session_delete_deletes_the_shared_credentials(node, backend, shared):
    a = node("node-a")
    connect(a, backend, phone="6281200000204")
    a.session_delete("s1")
    assert shared.credentials_get("s1") is None


def test_session_goes_back_to_its_first_node_with_the_shared_credentials(
    node, backend, session_store_url
):
    a, b = node("node-a"), node("node-b")
    connect(a, backend, phone="6281200000205")
    move(a, b, backend)
    outbox_drained(a)
    before = len(reports_of(backend, "s1", "node-a"))

    move(b, a, backend)

    assert reports_of(backend, "s1", "node-a")[before:] == ["INITIALIZING", "CONNECTED"]
    assert a.db.session_get("s1")["desired"] == "running"
    assert b.db.session_get("s1")["desired"] == "moved"
    assert credentials_owner(session_store_url, "s1") == "node-a"


def test_moved_stop_reports_nothing_and_later_sends_do_nothing(node, backend, shared):
    a = node("node-a")
    connect(a, backend, phone="6281200000206")
    outbox_drained(a)
    reported = reports_of(backend, "s1", "node-a")
    tasks.bind_runtime(a)
    try:
        tasks.session_stop.apply(kwargs={"sessionId": "s1", "moved": True}).get()
        result = tasks.message_send.apply(
            kwargs={"messageId": "m1", "sessionId": "s1", "payload": TEXT}
        )
    finally:
        tasks.bind_runtime(None)

    assert (result.state, result.get()) == ("SUCCESS", "not_here")
    assert not a.engines["sandbox"].is_running("s1")
    row = a.db.session_get("s1")
    assert row["desired"] == "moved"
    assert row["credentials"] is not None
    assert a.running_session_ids() == []
    assert network_of(a).ledger("m1") == []
    assert a.db.message_get("m1") is None
    assert shared.send_get("m1") is None
    assert shared.credentials_get("s1") is not None  # no logout: the next node resumes them
    outbox_drained(a)
    assert reports_of(backend, "s1", "node-a") == reported
    assert message_reports(backend, "m1") == []


def test_plain_stop_still_reports_disconnected(node, backend):
    a = node("node-a")
    connect(a, backend, phone="6281200000207")
    tasks.bind_runtime(a)
    try:
        tasks.session_stop.apply(kwargs={"sessionId": "s1"}).get()
    finally:
        tasks.bind_runtime(None)
    wait_until(lambda: reports_of(backend, "s1", "node-a")[-1] == "DISCONNECTED", message="stop")
    assert a.db.session_get("s1")["desired"] == "stopped"


def test_send_for_a_session_this_node_never_had_is_not_here(node, backend, shared):
    a = node("node-a")
    assert a.message_send("m1", "elsewhere", TEXT, final_attempt=False) == "not_here"
    assert a.db.message_get("m1") is None
    assert shared.send_get("m1") is None


def test_without_a_shared_store_an_unknown_session_is_not_connected(runtime):
    with pytest.raises(TransientSendError, match="session_not_connected"):
        runtime.message_send("m1", "elsewhere", TEXT, final_attempt=False)


def test_start_without_credentials_and_unreachable_store_fails(node, backend, make_config):
    a = node("node-a", session_store_url=UNREACHABLE_URL)
    a.session_start("s1", "u1", "sandbox")

    wait_until(lambda: reports_of(backend, "s1", "node-a"), message="report")
    (body,) = backend.bodies(SESSION_STATUS_PATH, sessionId="s1")
    assert (body["status"], body["reason"]) == ("FAILED", "session_store_unavailable")
    assert a.db.session_get("s1")["desired"] == "stopped"
    assert not a.engines["sandbox"].is_running("s1")


def test_reports_carry_the_worker_id(node, backend):
    a = node("node-a")
    connect(a, backend, phone="6281200000215")
    a.message_send("m1", "s1", TEXT)
    a.sandbox_action("s1", "incoming", {"from": "6281200000002", "text": "hi"})

    wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH), message="incoming report")
    wait_until(lambda: len(message_reports(backend, "m1")) == 3, message="read receipt")
    bodies = [
        *backend.bodies(SESSION_STATUS_PATH, sessionId="s1"),
        *message_reports(backend, "m1"),
        *backend.bodies(MESSAGE_RECEIVED_PATH),
    ]
    assert len(bodies) >= 6
    assert {body["workerId"] for body in bodies} == {"node-a"}


def test_register_body_carries_the_session_store_id(node, backend, shared):
    a = node("node-a")
    assert node_heartbeat(a).register_once()
    (body,) = backend.bodies(REGISTER_PATH)
    assert body["sessionStore"] == shared.store_id
    assert len(body["sessionStore"]) == 32


def test_node_does_not_register_while_its_store_is_unreachable(node, backend):
    a = node("node-a", session_store_url=UNREACHABLE_URL)
    assert not node_heartbeat(a).register_once()
    assert backend.received(REGISTER_PATH, ok_only=False) == []


def test_restore_waits_for_registration_when_the_store_is_shared(node, backend):
    a = node("node-a")
    connect(a, backend, phone="6281200000216")
    a.shutdown(flush_timeout_s=5)
    backend.answer(REGISTER_PATH, *[503] * 50)  # refused until the test lets it through
    again = NodeRuntime(a.config)
    beat = node_heartbeat(again)
    try:
        again.reporter.session_status("other", "DISCONNECTED", reason="stopped")

        assert not start_sessions(again, beat)

        wait_until(
            lambda: len(backend.received(REGISTER_PATH, ok_only=False)) >= 2, message="tries"
        )
        wait_until(lambda: backend.bodies(SESSION_STATUS_PATH, sessionId="other"))
        assert not beat.registered.is_set()
        assert not again.engines["sandbox"].is_running("s1")  # not registered yet
        with backend.lock:
            backend.answers[REGISTER_PATH].clear()  # the backend is back
        wait_until(lambda: beat.registered.is_set(), message="registered")
        wait_until(lambda: again.engines["sandbox"].is_running("s1"), message="restored")
        wait_until(
            lambda: reports_of(backend, "s1", "node-a")[-1] == "CONNECTED", message="CONNECTED"
        )
    finally:
        beat.stop()
        again.shutdown(flush_timeout_s=0)


def test_restore_does_not_wait_without_a_shared_store(make_runtime, backend):
    first = make_runtime()
    connect(first, backend, phone="6281200000217")
    first.shutdown(flush_timeout_s=5)
    backend.answer(REGISTER_PATH, 503, 503, 503)
    again = NodeRuntime(first.config)
    beat = node_heartbeat(again)
    try:
        assert start_sessions(again, beat)
        assert again.engines["sandbox"].is_running("s1")
    finally:
        beat.stop()
        again.shutdown(flush_timeout_s=0)


def test_restore_resumes_from_the_shared_credentials(node, backend, shared):
    a = node("node-a")
    connect(a, backend, phone="6281200000218")
    a.db.session_update("s1", credentials=None)  # as if kept before by another node
    a.shutdown(flush_timeout_s=5)
    again = NodeRuntime(a.config)
    try:
        again.start()
        wait_until(
            lambda: reports_of(backend, "s1", "node-a")[-1] == "CONNECTED", message="CONNECTED"
        )
        assert "QR_REQUIRED" not in reports_of(backend, "s1", "node-a")[-2:]
        assert again.db.session_get("s1")["credentials"] == shared.credentials_get("s1")[1]
    finally:
        again.shutdown(flush_timeout_s=0)


def test_a_starting_node_prunes_week_old_send_claims(node, shared, session_store_url):
    assert shared.send_claim("msg_stale", "s1", "node-gone") is None
    assert shared.send_claim("msg_recent", "s1", "node-gone") is None
    with psycopg.connect(session_store_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE gateway_node_sends SET updated_at = now() - interval '8 days'"
            " WHERE message_id = 'msg_stale'"
        )

    node("node-a")

    wait_until(lambda: shared.send_get("msg_stale") is None, message="stale claim pruned")
    assert shared.send_get("msg_recent")["state"] == "handed"


def test_receipt_for_a_message_the_former_node_sent_is_reported_by_the_new_one(
    node, backend, shared
):
    a, b = node("node-a"), node("node-b")
    connect(a, backend, phone="6281200000211")
    assert a.message_send("m1", "s1", TEXT) == "sent"
    wa_id = a.db.message_get("m1")["wa_message_id"]
    move(a, b, backend)
    assert b.db.message_get("m1") is None  # B never saw this message

    # WhatsApp delivers the read receipt to the device, which now runs on B.
    b.messages.receipt(wa_id, "read")

    wait_until(
        lambda: [r for r in message_reports(backend, "m1") if r["workerId"] == "node-b"],
        message="B's report of the receipt",
    )
    (from_b,) = [r for r in message_reports(backend, "m1") if r["workerId"] == "node-b"]
    assert (from_b["sessionId"], from_b["status"], from_b["waMessageId"]) == ("s1", "read", wa_id)


def test_receipt_for_an_unknown_message_is_not_reported(node, backend, shared):
    b = node("node-b")
    connect(b, backend, phone="6281200000212")

    b.messages.receipt("3EB0NOBODYSENTTHIS", "read")

    outbox_drained(b)
    assert [r for r in backend.bodies(MESSAGE_STATUS_PATH) if r["status"] == "read"] == []
