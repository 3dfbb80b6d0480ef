"""Presence, chat presence and read receipts through neonize 0.5.2's own client, offline (its Go
library stood in for by FakeGo): what each call sends, whatsmeow's refusals as codes; and the
Presence and ChatPresence events (neonize's real protobufs) as presence.update reports."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from neonize.events import ChatPresenceEv, PresenceEv
from neonize.proto import Neonize_pb2 as pb

from node_agent.engines.base import CallRefused
from node_agent.engines.whatsapp import client as wa_client
from node_agent.engines.whatsapp.calls import call_of
from node_agent.engines.whatsapp.ffi import FfiGate
from node_agent.engines.whatsapp.presence import EVENT_CLASSES, PresenceCalls, presence_of
from node_agent.protocol import SESSION_EVENT_PATH
from tests.node_agent.node_helpers import wait_until
from tests.node_agent.whatsapp_group_helpers import (
    GROUP_USER,
    PN,
    FakeGo,
    OneRun,
    empty,
    neonize_client,
    sent_jid,
)
from tests.node_agent.whatsapp_helpers import PEER, connect_session, feed, jid

TS = 1_700_000_000
GROUP = f"{GROUP_USER}@g.us"


@pytest.fixture
def wa(make_config, tmp_path):
    go = FakeGo()
    run = SimpleNamespace(
        state="connected", connect_running=True, client=neonize_client(tmp_path, go)
    )
    return SimpleNamespace(
        calls=PresenceCalls(make_config(), FfiGate(0), OneRun(run)), go=go, run=run
    )


def test_each_call_sends_what_whatsmeow_takes(wa):
    wa.calls.presence_set("w1", True)
    wa.calls.presence_set("w1", False)
    assert [args[1] for name, args in wa.go.calls] == [b"available", b"unavailable"]

    wa.go.calls.clear()
    for state in ("typing", "recording", "paused"):
        wa.calls.chat_presence("w1", f"{PEER}@{PN}", state)
    sent = [(sent_jid(args), args[3], args[4]) for _, args in wa.go.calls]
    # neonize's enums: COMPOSING 0, PAUSED 1; TEXT 0, AUDIO 1
    assert sent == [((PEER, PN, 0), 0, 0), ((PEER, PN, 0), 0, 1), ((PEER, PN, 0), 1, 0)]

    wa.go.calls.clear()
    items = [
        ("3EB0A", f"{PEER}@{PN}"),
        ("3EB0B", "6281200000302@s.whatsapp.net"),
        ("3EB0C", f"{PEER}@{PN}"),
    ]
    wa.calls.mark_read("w1", GROUP, items)
    reads = [(args[1], sent_jid(args, 3), sent_jid(args, 5), args[7]) for _, args in wa.go.calls]
    assert reads == [
        (b"3EB0A 3EB0C", (GROUP_USER, "g.us", 0), (PEER, PN, 0), b"read"),
        (b"3EB0B", (GROUP_USER, "g.us", 0), ("6281200000302", PN, 0), b"read"),
    ]

    wa.go.calls.clear()
    wa.calls.presence_subscribe("w1", "55443322@lid")
    [(name, args)] = wa.go.calls
    assert (name, sent_jid(args)) == ("SubscribePresence", ("55443322", "lid", 0))


def test_refusals_are_codes(wa):
    wa.go.answers["SendPresence"] = "can't send presence without PushName set"
    with pytest.raises(CallRefused) as refused:
        wa.calls.presence_set("w1", True)
    assert refused.value.code == "whatsapp_error"
    wa.go.answers["SubscribePresence"] = "websocket not connected"
    with pytest.raises(CallRefused) as refused:
        wa.calls.presence_subscribe("w1", f"{PEER}@{PN}")
    assert refused.value.code == "session_not_connected"
    wa.run.state = "reconnecting"
    wa.go.calls.clear()
    with pytest.raises(CallRefused):
        wa.calls.chat_presence("w1", f"{PEER}@{PN}", "typing")
    assert wa.go.calls == []  # refused before any call


def chat_presence(state, media, *, group=False):
    source = pb.MessageSource(
        Chat=jid(GROUP_USER, "g.us") if group else jid(PEER), Sender=jid(PEER), IsFromMe=False,
        IsGroup=group, SenderAlt=empty(), RecipientAlt=empty(), BroadcastListOwner=empty(),
    )  # fmt: skip
    event = ChatPresenceEv(MessageSource=source, State=state, Media=media)
    return ChatPresenceEv.FromString(event.SerializeToString())


def test_presence_events_map_to_presence_updates():
    online = presence_of(PresenceEv(From=jid(PEER), Unavailable=False, LastSeen=0))
    assert (online["contact"], online["state"], online["lastSeen"]) == (
        f"{PEER}@{PN}",
        "available",
        None,
    )
    away = presence_of(PresenceEv(From=jid(PEER), Unavailable=True, LastSeen=TS))
    assert (away["state"], away["lastSeen"]) == ("unavailable", "2023-11-14T22:13:20.000000Z")
    typing = presence_of(chat_presence(pb.ChatPresence.COMPOSING, pb.ChatPresence.TEXT))
    assert (typing["state"], typing["chat"]) == ("typing", None)
    recording = presence_of(
        chat_presence(pb.ChatPresence.COMPOSING, pb.ChatPresence.AUDIO, group=True)
    )
    assert (recording["state"], recording["chat"], recording["contact"]) == (
        "recording",
        GROUP,
        f"{PEER}@{PN}",
    )
    assert (
        presence_of(chat_presence(pb.ChatPresence.PAUSED, pb.ChatPresence.TEXT))["state"]
        == "paused"
    )
    assert typing["event_id"] != recording["event_id"]
    assert presence_of(pb.Picture()) is None
    assert {wa_client.EVENTS[name] for name in EVENT_CLASSES} == {"presence"}


def test_fed_presence_reaches_the_backend(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, chat_presence(pb.ChatPresence.COMPOSING, pb.ChatPresence.TEXT))
    feed(client, PresenceEv(From=jid(PEER), Unavailable=True, LastSeen=TS))
    bodies = wait_until(
        lambda: len(b := backend.bodies(SESSION_EVENT_PATH, sessionId="w1")) == 2 and b
    )
    assert [(b["type"], b["data"]["state"]) for b in bodies] == [
        ("presence.update", "typing"),
        ("presence.update", "unavailable"),
    ]


def test_a_call_offer_is_a_call_event_and_is_declined_with_reject_call(wa):
    from neonize.events import CallOfferEv

    meta = pb.BasicCallMeta(timestamp=TS, callCreator=jid(PEER), callID="CALL01")
    getattr(meta, "from").CopyFrom(jid(PEER))  # `from` is a Python keyword
    offer = CallOfferEv(basicCallMeta=meta)
    found = call_of(offer)
    assert (found["from"], found["callId"], found["at"]) == (
        f"{PEER}@{PN}",
        "CALL01",
        "2023-11-14T22:13:20.000000Z",
    )
    assert call_of(offer)["event_id"] == found["event_id"]  # a repeated offer: one call
    assert wa_client.EVENTS["CallOfferEv"] == "call"

    wa.calls.call_reject("w1", found["from"], "CALL01")
    [(name, args)] = wa.go.calls
    assert (name, sent_jid(args)) == ("RejectCall", (PEER, PN, 0))
    assert args[3].value == b"CALL01"
