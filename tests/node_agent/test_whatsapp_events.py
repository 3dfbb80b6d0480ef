"""Real neonize events fed through the client's own entry point, asserted at the fake backend."""

import os
import re
from datetime import UTC, datetime

import pytest
from neonize.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    ReceiptEv,
    StreamErrorEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import MessageInfo, MessageSource
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    ImageMessage,
    Message,
)

from node_agent.engines.whatsapp import mapping
from node_agent.protocol import MESSAGE_RECEIVED_PATH, MESSAGE_STATUS_PATH
from tests.node_agent.node_helpers import outbox_drained, wait_until
from tests.node_agent.whatsapp_helpers import (
    PEER,
    PHONE,
    connect_session,
    feed,
    feed_qr,
    jid,
    names,
    settle,
    wait_status,
)

QR = "2@ref{},bm9pc2U=,aWRlbnQ=,YWR2"


def expires_in_s(body):
    at = datetime.strptime(body["qrExpiresAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (at - datetime.now(UTC)).total_seconds()


def test_qr_codes_are_reported_with_index_and_whatsmeow_lifetimes(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    runtime.session_start("w1", "u1", "whatsapp")
    client = runtime.engines["whatsapp"].client_of("w1")
    for index in range(1, 4):
        feed_qr(client, QR.format(index))
    settle(runtime)

    qrs = [b for s, b in backend.statuses("w1") if s == "QR_REQUIRED"]
    wait_until(lambda: len([1 for s in names(backend, "w1") if s == "QR_REQUIRED"]) == 3)
    qrs = [b for s, b in backend.statuses("w1") if s == "QR_REQUIRED"]
    assert [b["qrIndex"] for b in qrs] == [1, 2, 3]
    assert [b["qrString"] for b in qrs] == [QR.format(i) for i in (1, 2, 3)]
    assert 58 < expires_in_s(qrs[0]) <= 60  # whatsmeow: the first code lives 60 s
    assert 18 < expires_in_s(qrs[1]) <= 20  # then 20 s each
    assert names(backend, "w1")[0] == "INITIALIZING"


def test_six_unscanned_codes_end_in_qr_timeout(make_wa_runtime, backend):
    runtime = make_wa_runtime(
        whatsapp_qr_first_ttl_s=0.2, whatsapp_qr_ttl_s=0.1, whatsapp_qr_grace_s=0.1
    )
    runtime.session_start("w1", "u1", "whatsapp")
    client = runtime.engines["whatsapp"].client_of("w1")
    for index in range(1, 7):
        feed_qr(client, QR.format(index))

    failed = wait_status(backend, "w1", "FAILED")
    assert failed["reason"] == "qr_timeout"
    assert names(backend, "w1") == ["INITIALIZING"] + ["QR_REQUIRED"] * 6 + ["FAILED"]
    assert runtime.db.session_get("w1")["desired"] == "stopped"
    assert not runtime.engines["whatsapp"].is_running("w1")


def test_pairing_code_is_asked_after_the_first_qr_and_qr_is_not_shown(make_wa_runtime, backend):
    # Offline there is no connect(), so whatsmeow answers PairPhone with "client is nil":
    # proof that PairPhone ran (off the Go thread) and that its failure is reported.
    runtime = make_wa_runtime()
    runtime.session_start("w1", "u1", "whatsapp", "pairing_code", "+62 812-0000-0100")
    client = runtime.engines["whatsapp"].client_of("w1")
    feed_qr(client, QR.format(1))

    failed = wait_status(backend, "w1", "FAILED")
    assert failed["reason"] == "pairing_code_failed"
    assert "QR_REQUIRED" not in names(backend, "w1")


def test_pair_success_then_connected_reports_phone_jid_and_keeps_a_marker(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    connect_session(runtime, backend)

    report = wait_status(backend, "w1", "CONNECTED")
    assert (report["phoneNumber"], report["jid"]) == (PHONE, f"{PHONE}@s.whatsapp.net")
    row = runtime.db.session_get("w1")
    assert row["credentials"] == {
        "jid": f"{PHONE}:7@s.whatsapp.net",
        "lid": "99887766@lid",
        "store": "sqlite",
    }
    assert row["jid"] == f"{PHONE}@s.whatsapp.net"


def test_connected_without_me_uses_the_paired_jid_and_never_calls_get_me(make_wa_runtime, backend):
    # get_me() without a running connect() crashes the process; surviving proves it's not called.
    runtime = make_wa_runtime()
    runtime.session_start("w1", "u1", "whatsapp")
    client = runtime.engines["whatsapp"].client_of("w1")
    feed(client, PairStatusEv(ID=jid(PHONE, device=3), Status=PairStatusEv.SUCCESS))
    feed(client, ConnectedEv(status=True))

    report = wait_status(backend, "w1", "CONNECTED")
    assert report["phoneNumber"] == PHONE


def test_pair_error_fails_the_session(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    runtime.session_start("w1", "u1", "whatsapp")
    client = runtime.engines["whatsapp"].client_of("w1")
    feed(client, PairStatusEv(Status=PairStatusEv.ERROR, Error="bad"))

    assert wait_status(backend, "w1", "FAILED")["reason"] == "pairing_failed"


def test_disconnect_and_keepalive_report_reconnecting_then_connected(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, DisconnectedEv(status=True))
    feed(client, ConnectedEv(status=True))
    feed(client, KeepAliveTimeoutEv(ErrorCount=2))
    feed(client, KeepAliveRestoredEv())
    feed(client, StreamErrorEv(Code="999"))
    settle(runtime)

    wait_until(lambda: names(backend, "w1").count("RECONNECTING") == 3)
    wait_until(lambda: names(backend, "w1").count("CONNECTED") == 3)
    reasons = [b["reason"] for s, b in backend.statuses("w1") if s == "RECONNECTING"]
    assert reasons == ["connection_lost", "keepalive_timeout", "connection_lost"]
    assert runtime.db.session_get("w1")["desired"] == "running"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (LoggedOutEv(OnConnect=True), "logged_out_from_phone"),
        (LoggedOutEv(OnConnect=False, Reason=mapping.CF_LOGGED_OUT), "logged_out_from_phone"),
        (LoggedOutEv(Reason=mapping.CF_MAIN_DEVICE_GONE), "main_device_gone"),
        (ConnectFailureEv(Reason=mapping.CF_LOGGED_OUT), "logged_out_from_phone"),
        (ConnectFailureEv(Reason=mapping.CF_UNKNOWN_LOGOUT), "unknown_logout"),
    ],
)
def test_logged_out_ends_the_session_and_deletes_its_store(
    make_wa_runtime, backend, make_config, event, reason
):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    device_store = runtime.engines["whatsapp"].device_store_name("w1")
    os.makedirs(os.path.dirname(device_store), exist_ok=True)
    open(device_store, "wb").close()
    feed(client, event)

    assert wait_status(backend, "w1", "LOGGED_OUT")["reason"] == reason
    row = runtime.db.session_get("w1")
    assert (row["desired"], row["credentials"], row["jid"]) == ("stopped", None, None)
    wait_until(lambda: not os.path.exists(device_store), message="device store deleted")


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (StreamReplacedEv(), "stream_replaced"),
        (TemporaryBanEv(Code=TemporaryBanEv.SEND_TO_TOO_MANY_PEOPLE, Expire=3600), "temporary_ban"),
        (ClientOutdatedEv(), "client_outdated"),
        (ConnectFailureEv(Reason=mapping.CF_CLIENT_OUTDATED), "client_outdated"),
        (ConnectFailureEv(Reason=mapping.CF_BAD_USER_AGENT), "client_outdated"),
        (ConnectFailureEv(Reason=mapping.CF_TEMP_BANNED), "temporary_ban"),
    ],
)
def test_final_failures_stop_the_session(make_wa_runtime, backend, event, reason):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, event)

    assert wait_status(backend, "w1", "FAILED")["reason"] == reason
    assert runtime.db.session_get("w1")["desired"] == "stopped"
    assert not runtime.engines["whatsapp"].is_running("w1")
    assert runtime.db.session_get("w1")["credentials"]  # the device stays linked


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (mapping.CF_SERVICE_UNAVAILABLE, "whatsapp_unavailable"),
        (mapping.CF_INTERNAL_SERVER_ERROR, "whatsapp_server_error"),
        (mapping.CF_GENERIC, "connect_failure"),
    ],
)
def test_server_side_connect_failures_are_retried(make_wa_runtime, backend, code, reason):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, ConnectFailureEv(Reason=code, Message="try later"))

    assert wait_status(backend, "w1", "FAILED")["reason"] == reason
    assert runtime.db.session_get("w1")["desired"] == "running"
    assert runtime.engines["whatsapp"].is_running("w1")


def incoming_event(message, sender=None, msg_id="3EB0AA01", **source):
    return MessageEv(
        Info=MessageInfo(
            ID=msg_id,
            Timestamp=1_700_000_000_000,  # the encoder sends milliseconds
            Pushname="Ana",
            MessageSource=MessageSource(Chat=jid(PEER), Sender=sender or jid(PEER), **source),
        ),
        Message=message,
    )


def test_incoming_text_is_reported_and_stored_once(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, incoming_event(Message(conversation="hello")))
    feed(client, incoming_event(Message(conversation="hello")))  # redelivered after reconnect
    settle(runtime)

    body = wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="w1"))[0]
    assert body["message"] == {
        "id": "3EB0AA01",
        "from": PEER,
        "chatId": f"{PEER}@s.whatsapp.net",
        "type": "text",
        "text": "hello",
        "timestamp": "2023-11-14T22:13:20.000000Z",
        "fromMe": False,
        "pushName": "Ana",
        "isGroup": False,
        "senderJid": f"{PEER}@s.whatsapp.net",
        "fromPhone": PEER,  # the sender's other form (a LID) only when WhatsApp tells it
    }
    outbox_drained(runtime)  # both were handled (settle): every report they made has arrived
    assert len(backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="w1")) == 1
    stored = runtime.db.message_list("w1", direction="in")
    assert [(m["wa_message_id"], m["payload"]["text"]) for m in stored] == [("3EB0AA01", "hello")]


def test_incoming_from_a_lid_sender_reports_the_phone_number(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(
        client,
        incoming_event(
            Message(conversation="hi"), sender=jid("1234567", "lid"), SenderAlt=jid(PEER)
        ),
    )
    body = wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="w1"))[0]
    assert body["message"]["from"] == PEER


def test_incoming_media_reports_type_and_caption(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    image = ImageMessage(mimetype="image/jpeg", fileLength=2048, caption="look")
    feed(client, incoming_event(Message(imageMessage=image)))

    body = wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="w1"))[0]
    assert (body["message"]["type"], body["message"]["text"]) == ("image", "look")


def test_media_descriptor_and_context_of_incoming_messages():
    document = DocumentMessage(mimetype="application/pdf", fileLength=9, fileName="a.pdf")
    incoming = mapping.incoming(incoming_event(Message(documentMessage=document)))
    assert incoming["type"] == "document"
    assert incoming["media"] == {"mimetype": "application/pdf", "size": 9, "filename": "a.pdf"}
    reply = ExtendedTextMessage(
        text="yes",
        contextInfo=ContextInfo(stanzaID="3EB0PREV", mentionedJID=[f"{PHONE}@s.whatsapp.net"]),
    )
    incoming = mapping.incoming(incoming_event(Message(extendedTextMessage=reply)))
    assert (incoming["text"], incoming["quotedId"], incoming["mentions"]) == (
        "yes",
        "3EB0PREV",
        [PHONE],
    )
    assert mapping.incoming(incoming_event(Message(conversation="x"), IsFromMe=True)) is None
    assert mapping.incoming(incoming_event(Message())) is None


def sent_message(runtime, wa_id):
    runtime.db.message_record_out(
        "m1", session_id="w1", chat_jid=f"{PEER}@s.whatsapp.net", type_="text", payload={}
    )
    runtime.db.message_transition("m1", ("recorded",), "sent", wa_message_id=wa_id, status="sent")


def receipt(receipt_type=None, ids=("3EB0OUT1",)):
    event = ReceiptEv(MessageSource=MessageSource(Chat=jid(PEER)), MessageIDs=list(ids))
    if receipt_type is not None:
        event.Type = receipt_type
    return event


def test_receipts_delivered_then_played_as_read(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    sent_message(runtime, "3EB0OUT1")
    feed(client, receipt())  # untyped: a server-error receipt in the encoder, ignored
    feed(client, receipt(ReceiptEv.READ_SELF))  # ignored
    feed(client, receipt(ReceiptEv.DELIVERED))
    feed(client, receipt(ReceiptEv.PLAYED))

    wait_until(lambda: len(backend.bodies(MESSAGE_STATUS_PATH, messageId="m1")) == 2)
    statuses = [b["status"] for b in backend.bodies(MESSAGE_STATUS_PATH, messageId="m1")]
    assert statuses == ["delivered", "read"]
    assert runtime.db.message_get("m1")["status"] == "read"


def test_resume_that_finds_a_blank_store_is_logged_out(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    runtime.db.session_upsert("w1", user_id="u1", engine="whatsapp", method="qr", phone_number=None)
    runtime.db.session_update("w1", credentials={"jid": f"{PHONE}:7@s.whatsapp.net"})
    runtime.restore()
    feed_qr(runtime.engines["whatsapp"].client_of("w1"), QR.format(1))

    assert wait_status(backend, "w1", "LOGGED_OUT")["reason"] == "device_removed"
    assert "QR_REQUIRED" not in names(backend, "w1")


def test_nothing_is_reported_after_stop(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    runtime.session_stop("w1")
    feed(client, DisconnectedEv(status=True))
    feed(client, incoming_event(Message(conversation="late")))
    settle(runtime)  # both events were handled (and dropped) by the dispatcher
    outbox_drained(runtime)  # so every report made so far has reached the backend

    assert names(backend, "w1")[-1] == "DISCONNECTED"
    assert backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="w1") == []


def test_send_needs_a_connection_and_builds_replies_with_mentions(make_wa_runtime, backend):
    from node_agent.engines.base import TransientSendError
    from node_agent.engines.whatsapp.engine import build_text_message

    runtime = make_wa_runtime()
    runtime.session_start("w1", "u1", "whatsapp")
    with pytest.raises(TransientSendError):
        runtime.engines["whatsapp"].send("w1", "m1", {"type": "text", "to": PEER, "text": "x"})
    with pytest.raises(TransientSendError):
        runtime.engines["whatsapp"].check_number("w1", PEER)

    plain = build_text_message({"text": "hi"}, (PEER, "s.whatsapp.net"))
    assert plain.conversation == "hi"
    rich = build_text_message(
        {"text": f"hi @{PHONE}", "replyTo": "3EB0PREV", "mentions": [f"+{PHONE}"]},
        (PEER, "s.whatsapp.net"),
    )
    context = rich.extendedTextMessage.contextInfo
    assert rich.extendedTextMessage.text == f"hi @{PHONE}"
    assert (context.stanzaID, context.participant) == ("3EB0PREV", f"{PEER}@s.whatsapp.net")
    assert list(context.mentionedJID) == [f"{PHONE}@s.whatsapp.net"]
    assert re.fullmatch(r"\d+@s\.whatsapp\.net", context.mentionedJID[0])


def test_a_sender_addressed_by_lid_carries_both_forms_when_whatsapp_tells_them():
    from neonize.proto.Neonize_pb2 import JID, MessageSource

    from node_agent.engines.whatsapp.mapping import sender_ids

    lid = JID(
        User="123456789012345", Server="lid", RawAgent=0, Device=0, Integrator=0, IsEmpty=False
    )
    phone = JID(
        User=PEER, Server="s.whatsapp.net", RawAgent=0, Device=0, Integrator=0, IsEmpty=False
    )
    both = MessageSource(Sender=lid, SenderAlt=phone)
    assert sender_ids(both) == {"fromPhone": PEER, "fromLid": "123456789012345@lid"}
    assert sender_ids(MessageSource(Sender=lid)) == {
        "fromPhone": None,
        "fromLid": "123456789012345@lid",
    }
    assert sender_ids(MessageSource(Sender=phone)) == {"fromPhone": PEER, "fromLid": None}
