"""Send claims in the shared session store: a message leaves once, whichever node holds it."""

import pytest

from node_agent.engines.base import TransientSendError
from node_agent.session_store import SharedSessionStore
from tests.node_agent.node_helpers import connect, network_of, wait_until
from tests.node_agent.shared_store import TEXT, UNREACHABLE_URL, message_reports, move, reports_of


def test_message_handed_on_another_node_is_failed_delivery_unknown(node, backend, shared):
    a = node("node-a")
    connect(a, backend, phone="6281200000208")
    assert shared.send_claim("m1", "s1", "node-x") is None

    assert a.message_send("m1", "s1", TEXT) == "failed"

    (report,) = wait_until(lambda: message_reports(backend, "m1"), message="failed report")
    assert (report["status"], report["error"]["code"]) == ("failed", "delivery_unknown")
    assert report["workerId"] == "node-a"
    assert network_of(a).ledger("m1") == []
    claim = shared.send_get("m1")
    assert (claim["worker_id"], claim["state"]) == ("node-x", "handed")


def test_message_sent_by_one_node_is_not_sent_again_by_another(node, backend, shared):
    a, b = node("node-a"), node("node-b")
    connect(a, backend, phone="6281200000209")
    assert a.message_send("m1", "s1", TEXT) == "sent"
    claim = shared.send_get("m1")
    wa_id = a.db.message_get("m1")["wa_message_id"]
    assert (claim["worker_id"], claim["state"], claim["wa_message_id"]) == ("node-a", "sent", wa_id)
    move(a, b, backend)

    assert b.message_send("m1", "s1", TEXT) == "sent"

    assert len(network_of(b).ledger("m1")) == 1
    wait_until(
        lambda: [r for r in message_reports(backend, "m1") if r["workerId"] == "node-b"],
        message="B's report",
    )
    (from_b,) = [r for r in message_reports(backend, "m1") if r["workerId"] == "node-b"]
    assert (from_b["status"], from_b["waMessageId"]) == ("sent", wa_id)
    stored = b.db.message_get("m1")
    assert (stored["state"], stored["wa_message_id"]) == ("sent", wa_id)


def test_permanent_failure_is_shared_with_the_next_node(node, backend, shared):
    a, b = node("node-a"), node("node-b")
    connect(a, backend, phone="6281200000210")
    payload = {**TEXT, "to": "6281200000099", "chatId": "6281200000099@s.whatsapp.net"}
    assert a.message_send("m1", "s1", payload) == "failed"
    claim = shared.send_get("m1")
    assert (claim["state"], claim["error_code"]) == ("failed", "recipient_not_on_whatsapp")
    move(a, b, backend)

    assert b.message_send("m1", "s1", payload) == "failed"

    wait_until(
        lambda: [r for r in message_reports(backend, "m1") if r["workerId"] == "node-b"],
        message="B's report",
    )
    (from_b,) = [r for r in message_reports(backend, "m1") if r["workerId"] == "node-b"]
    assert (from_b["status"], from_b["error"]["code"]) == ("failed", "recipient_not_on_whatsapp")


def test_transient_failure_releases_the_claim(node, backend, shared):
    a = node("node-a", sandbox_reconnect_delay_s=30.0)
    connect(a, backend, phone="6281200000211")
    a.sandbox_action("s1", "disconnect", {})
    wait_until(lambda: "RECONNECTING" in reports_of(backend, "s1", "node-a"), message="drop")

    with pytest.raises(TransientSendError, match="session_not_connected"):
        a.message_send("m1", "s1", TEXT, final_attempt=False)

    assert shared.send_get("m1") is None
    assert a.db.message_get("m1")["state"] == "recorded"
    assert network_of(a).ledger("m1") == []


def test_own_claim_left_by_a_stopped_node_is_taken_again(node, backend, shared):
    a = node("node-a")
    connect(a, backend, phone="6281200000212")
    # The node stopped between its claim and its local hand-off: nothing went to the engine.
    a.db.message_record_out(
        "m1", session_id="s1", chat_jid=TEXT["chatId"], type_="text", payload=TEXT
    )
    assert shared.send_claim("m1", "s1", "node-a") is None

    assert a.message_send("m1", "s1", TEXT) == "sent"

    assert len(network_of(a).ledger("m1")) == 1
    assert shared.send_get("m1")["state"] == "sent"


def test_handed_message_left_by_a_crash_is_failed_in_the_shared_store_too(
    node, backend, shared, make_config, tmp_path, session_store_url
):
    a = node("node-a")
    connect(a, backend, phone="6281200000213")
    a.db.message_record_out(
        "m1", session_id="s1", chat_jid=TEXT["chatId"], type_="text", payload=TEXT
    )
    assert shared.send_claim("m1", "s1", "node-a") is None
    a.db.message_transition("m1", ("recorded",), "handed")

    a.restore()  # as at the next start

    claim = shared.send_get("m1")
    assert (claim["state"], claim["error_code"]) == ("failed", "delivery_unknown")
    (report,) = wait_until(lambda: message_reports(backend, "m1"), message="failed report")
    assert report["error"]["code"] == "delivery_unknown"


def test_no_send_without_a_claim_when_the_store_is_unreachable(node, backend):
    a = node("node-a")
    connect(a, backend, phone="6281200000214")
    a.messages.shared = SharedSessionStore(UNREACHABLE_URL)

    with pytest.raises(TransientSendError, match="session_store_unavailable"):
        a.message_send("m1", "s1", TEXT, final_attempt=False)
    assert network_of(a).ledger("m1") == []
    assert a.db.message_get("m1")["state"] == "recorded"

    assert a.message_send("m1", "s1", TEXT, final_attempt=True) == "failed"
    (report,) = wait_until(lambda: message_reports(backend, "m1"), message="failed report")
    assert report["error"]["code"] == "session_store_unavailable"
    assert network_of(a).ledger("m1") == []
