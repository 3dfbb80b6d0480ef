import re
import threading

import pytest

from node_agent import protocol, tasks
from node_agent.engines.base import TransientSendError
from node_agent.protocol import MESSAGE_RECEIVED_PATH, MESSAGE_STATUS_PATH
from node_agent.runtime import NodeRuntime
from tests.node_agent.node_helpers import connect, network_of, wait_until

TEXT = {
    "to": "6281200000001",
    "chatId": "6281200000001@s.whatsapp.net",
    "type": "text",
    "text": "hello",
}


def message_reports(backend, message_id):
    return backend.bodies(MESSAGE_STATUS_PATH, messageId=message_id)


def test_text_is_sent_then_delivered_then_read(runtime, backend):
    connect(runtime, backend)
    assert runtime.message_send("m1", "s1", TEXT) == "sent"

    wait_until(lambda: len(message_reports(backend, "m1")) == 3, message="read receipt")
    reports = message_reports(backend, "m1")
    assert [r["status"] for r in reports] == ["sent", "delivered", "read"]
    wa_id = reports[0]["waMessageId"]
    assert re.fullmatch(r"3EB0[0-9A-F]{16}", wa_id)
    assert all(r["waMessageId"] == wa_id and r["sessionId"] == "s1" for r in reports)
    ledger = network_of(runtime).ledger("m1")
    assert len(ledger) == 1
    assert ledger[0]["to_jid"] == "6281200000001@s.whatsapp.net"
    assert ledger[0]["from_phone"] == "6281200000100"
    stored = runtime.db.message_get("m1")
    assert (stored["state"], stored["status"], stored["wa_message_id"]) == ("sent", "read", wa_id)


def test_recipient_not_on_whatsapp_fails(runtime, backend):
    connect(runtime, backend)
    payload = {**TEXT, "to": "6281200000099", "chatId": "6281200000099@s.whatsapp.net"}
    assert runtime.message_send("m1", "s1", payload) == "failed"

    report = wait_until(lambda: message_reports(backend, "m1"))[0]
    assert report["status"] == "failed"
    assert report["error"]["code"] == "recipient_not_on_whatsapp"
    assert network_of(runtime).ledger("m1") == []


def test_repeated_send_sends_once(runtime, backend):
    connect(runtime, backend)
    runtime.message_send("m1", "s1", TEXT)
    runtime.message_send("m1", "s1", TEXT)

    assert len(network_of(runtime).ledger("m1")) == 1
    wait_until(lambda: [r for r in message_reports(backend, "m1") if r["status"] == "read"])
    sent = [r for r in message_reports(backend, "m1") if r["status"] in ("sent", "read")]
    assert len({r["waMessageId"] for r in sent}) == 1


def test_repeated_send_through_the_task_sends_once(runtime, backend):
    connect(runtime, backend)
    tasks.bind_runtime(runtime)
    try:
        kwargs = {"messageId": "m1", "sessionId": "s1", "payload": TEXT}
        assert tasks.message_send.apply(kwargs=kwargs).get() == "queued"
        wait_until(lambda: runtime.db.message_get("m1")["state"] == "sent")
        assert tasks.message_send.apply(kwargs=kwargs).get() == "sent"  # a repeat: its report
    finally:
        tasks.bind_runtime(None)
    assert len(network_of(runtime).ledger("m1")) == 1


def test_message_left_handed_is_not_resent(runtime, backend):
    connect(runtime, backend)
    # As if the node died after handing m1 to the engine, before recording the outcome.
    runtime.db.message_record_out(
        "m1", session_id="s1", chat_jid=TEXT["chatId"], type_="text", payload=TEXT
    )
    assert runtime.db.message_transition("m1", ("recorded",), "handed")

    assert runtime.message_send("m1", "s1", TEXT) == "failed"
    report = wait_until(lambda: message_reports(backend, "m1"))[0]
    assert (report["status"], report["error"]["code"]) == ("failed", "delivery_unknown")
    assert network_of(runtime).ledger("m1") == []
    assert runtime.db.message_get("m1")["state"] == "failed"


def test_restart_settles_handed_message_as_delivery_unknown(make_config, backend):
    config = make_config()
    first = NodeRuntime(config)
    first.start()
    first.db.message_record_out(
        "m1", session_id="s1", chat_jid=TEXT["chatId"], type_="text", payload=TEXT
    )
    first.db.message_transition("m1", ("recorded",), "handed")
    first.shutdown(flush_timeout_s=0)

    second = NodeRuntime(config)
    second.start()
    try:
        report = wait_until(lambda: message_reports(backend, "m1"))[0]
        assert report["error"]["code"] == "delivery_unknown"
        assert network_of(second).ledger("m1") == []
    finally:
        second.shutdown(flush_timeout_s=0)


def test_send_while_not_connected_retries_then_fails(runtime, backend):
    runtime.session_start("s1", "u1", "sandbox")
    tasks.bind_runtime(runtime)
    try:
        result = tasks.message_send.apply(
            kwargs={"messageId": "m1", "sessionId": "s1", "payload": TEXT}
        )
    finally:
        tasks.bind_runtime(None)

    assert result.get() == "queued"  # the lane retries, then the last try reports it
    report = wait_until(lambda: message_reports(backend, "m1"))[0]
    assert report["error"]["code"] == "session_not_connected"
    assert network_of(runtime).ledger() == []


def test_transient_error_keeps_message_unsent(runtime, backend):
    runtime.session_start("s1", "u1", "sandbox")
    with pytest.raises(TransientSendError) as excinfo:
        runtime.message_send("m1", "s1", TEXT, final_attempt=False)
    assert excinfo.value.code == "session_not_connected"
    assert runtime.db.message_get("m1")["state"] == "recorded"
    assert message_reports(backend, "m1") == []


def test_unsupported_type_fails(runtime, backend):
    connect(runtime, backend)
    assert runtime.message_send("m1", "s1", {**TEXT, "type": "story"}) == "failed"

    report = wait_until(lambda: message_reports(backend, "m1"))[0]
    assert report["error"]["code"] == "unsupported_type"
    assert network_of(runtime).ledger() == []


def test_incoming_message_is_stored_and_reported(runtime, backend):
    connect(runtime, backend)
    runtime.sandbox_action(
        "s1", "incoming", {"from": "6281299990000", "type": "text", "text": "hi"}
    )

    body = wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="s1"))[0]
    message = body["message"]
    assert message["from"] == "6281299990000"
    assert message["chatId"] == "6281299990000@s.whatsapp.net"
    assert (message["type"], message["text"], message["fromMe"]) == ("text", "hi", False)
    assert message["id"].startswith("3EB0")
    stored = runtime.db.message_list("s1", direction="in")
    assert len(stored) == 1
    assert stored[0]["wa_message_id"] == message["id"]
    assert stored[0]["payload"] == {"text": "hi", "fromPhone": "6281299990000", "fromLid": None}


def test_duplicate_task_during_a_running_send_does_not_fail_it(runtime, backend):
    connect(runtime, backend)
    engine = runtime.engines["sandbox"]
    entered, release = threading.Event(), threading.Event()
    real_send = engine.send

    def slow_send(*args):
        entered.set()
        release.wait(10)
        return real_send(*args)

    engine.send = slow_send
    first = threading.Thread(target=runtime.message_send, args=("m1", "s1", TEXT))
    first.start()
    entered.wait(10)

    assert runtime.message_send("m1", "s1", TEXT) == "handed"
    release.set()
    first.join(10)

    assert runtime.db.message_get("m1")["state"] == "sent"
    assert len(network_of(runtime).ledger("m1")) == 1
    wait_until(lambda: message_reports(backend, "m1"))
    assert "failed" not in [r["status"] for r in message_reports(backend, "m1")]


def test_history_lists_both_directions_in_the_protocol_shape(runtime, backend):
    connect(runtime, backend)
    runtime.message_send("m1", "s1", TEXT)
    runtime.sandbox_action("s1", "incoming", {"from": "6281299990000", "text": "hi"})
    wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="s1"))
    tasks.bind_runtime(runtime)
    try:
        items = tasks.messages_list.apply(kwargs={"sessionId": "s1", "limit": 10}).get()
        after_first = tasks.messages_list.apply(
            kwargs={"sessionId": "s1", "since": items[0]["cursor"]}
        ).get()
    finally:
        tasks.bind_runtime(None)

    assert [tuple(item) for item in items] == [protocol.HISTORY_ITEM_KEYS] * 2
    out, incoming = items
    assert (out["id"], out["direction"], out["type"], out["error"]) == ("m1", "out", "text", None)
    assert out["chatId"] == TEXT["chatId"]
    assert out["content"] == {"text": "hello"}
    assert (incoming["direction"], incoming["from"], incoming["status"]) == (
        "in",
        "6281299990000",
        "received",
    )
    assert incoming["id"] == incoming["waMessageId"]
    assert after_first == [incoming]


def test_history_pages_newest_first_and_filters_by_direction_and_text(runtime, backend):
    connect(runtime, backend)
    runtime.message_send("m1", "s1", {**TEXT, "text": "Order 100% confirmed"})
    for text in ("Café au lait?", "two KOPI please", "bye"):
        runtime.sandbox_action("s1", "incoming", {"from": "6281299990000", "text": text})
    wait_until(lambda: len(backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="s1")) == 3)

    def page(**ask):
        return runtime.messages.history(protocol.MessagesList(session_id="s1", **ask))

    def texts(items):
        return [item["content"].get("text") for item in items]

    newest = page(newest_first=True, limit=2)
    assert texts(newest) == ["bye", "two KOPI please"]
    older = page(newest_first=True, before=newest[-1]["cursor"])
    assert texts(older) == ["Café au lait?", "Order 100% confirmed"]
    assert texts(page(direction="out")) == ["Order 100% confirmed"]
    assert texts(page(direction="in", query="kopi")) == ["two KOPI please"]
    assert texts(page(query="CAFÉ")) == ["Café au lait?"]  # Unicode case folding
    assert texts(page(query="100%")) == ["Order 100% confirmed"]  # % is a character here
    assert texts(page(query="0%")) == ["Order 100% confirmed"]
    assert texts(page(query="_")) == []
    assert len(page(query="6281299990000")) == 3  # the sender's number
    assert texts(page(direction="sideways")) == texts(page())  # unknown: both
