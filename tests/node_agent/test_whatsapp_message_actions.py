"""Reactions, edits and revokes as neonize 0.5.2 hands them over (its real Message protobufs),
turned into message.reaction / message.edited / message.revoked reports, fed through a client's
own event entry point."""

from __future__ import annotations

from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, ProtocolMessage, ReactionMessage

from node_agent.engines.whatsapp.message_actions import action_of
from node_agent.protocol import MESSAGE_RECEIVED_PATH, SESSION_EVENT_PATH
from tests.node_agent.node_helpers import outbox_drained, wait_until
from tests.node_agent.test_whatsapp_events import incoming_event
from tests.node_agent.whatsapp_helpers import PEER, connect_session, feed, settle

KEY = MessageKey(remoteJID=f"{PEER}@s.whatsapp.net", fromMe=True, ID="3EB0ORIGINAL")


def reaction(emoji):
    return Message(reactionMessage=ReactionMessage(key=KEY, text=emoji, senderTimestampMS=1))


def edit(text):
    edited = ProtocolMessage(
        key=KEY, type=ProtocolMessage.MESSAGE_EDIT, editedMessage=Message(conversation=text)
    )
    return Message(protocolMessage=edited)


REVOKE = Message(protocolMessage=ProtocolMessage(key=KEY, type=ProtocolMessage.REVOKE))


def test_each_action_maps_to_its_event():
    reacted = action_of(incoming_event(reaction("👍"), msg_id="3EB0R1"))
    assert reacted["type"] == "message.reaction"
    data = reacted["data"]
    assert (data["messageId"], data["emoji"], data["chatId"], data["from"]) == (
        "3EB0ORIGINAL",
        "👍",
        f"{PEER}@s.whatsapp.net",
        PEER,  # as message.received's `from`
    )
    assert data["senderJid"] == f"{PEER}@s.whatsapp.net"
    assert action_of(incoming_event(reaction(""), msg_id="3EB0R2"))["data"]["emoji"] == ""
    edited = action_of(incoming_event(edit("fixed typo"), msg_id="3EB0E1"))
    assert (edited["type"], edited["data"]["text"]) == ("message.edited", "fixed typo")
    revoked = action_of(incoming_event(REVOKE, msg_id="3EB0V1"))
    assert (revoked["type"], revoked["data"]["messageId"]) == ("message.revoked", "3EB0ORIGINAL")
    assert "text" not in revoked["data"]
    # a repeat keeps its id; an ordinary message or one of ours is no action
    assert action_of(incoming_event(REVOKE, msg_id="3EB0V1"))["event_id"] == revoked["event_id"]
    assert action_of(incoming_event(Message(conversation="hi"))) is None
    assert action_of(incoming_event(REVOKE, IsFromMe=True)) is None


def test_fed_actions_are_reported_and_are_not_messages(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, incoming_event(reaction("❤️"), msg_id="3EB0R1"))
    feed(client, incoming_event(edit("v2"), msg_id="3EB0E1"))
    feed(client, incoming_event(REVOKE, msg_id="3EB0V1"))
    bodies = wait_until(
        lambda: len(b := backend.bodies(SESSION_EVENT_PATH, sessionId="w1")) == 3 and b
    )
    assert [b["type"] for b in bodies] == ["message.reaction", "message.edited", "message.revoked"]
    settle(runtime)
    outbox_drained(runtime)
    assert backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="w1") == []


def test_a_groups_read_receipt_says_who_read_each_message():
    from neonize.events import ReceiptEv
    from neonize.proto.Neonize_pb2 import MessageSource

    from node_agent.engines.whatsapp.message_actions import group_reads
    from tests.node_agent.whatsapp_helpers import jid

    def receipt(kind, group=True):
        source = MessageSource(
            Chat=jid("120363041234567890", "g.us") if group else jid(PEER),
            Sender=jid("6281200000302"),
            IsGroup=group,
        )
        return ReceiptEv(
            MessageSource=source, MessageIDs=["3EB0A", "3EB0B"], Type=kind, Timestamp=1_700_000_000
        )

    reads = group_reads(receipt(4))  # Neonize.proto Receipt type READ
    assert [(r["type"], r["data"]["messageId"], r["data"]["from"]) for r in reads] == [
        ("message.read", "3EB0A", "6281200000302"),
        ("message.read", "3EB0B", "6281200000302"),
    ]
    assert reads[0]["data"]["chatId"] == "120363041234567890@g.us"
    assert group_reads(receipt(1)) == []  # delivered
    assert group_reads(receipt(4, group=False)) == []  # a person's chat: the status says it


def test_a_poll_vote_is_decrypted_and_its_options_named_from_the_poll_sent():
    import hashlib

    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import PollUpdateMessage, PollVoteMessage

    from node_agent.message_actions import vote_named

    update = Message(pollUpdateMessage=PollUpdateMessage(pollCreationMessageKey=KEY))
    soto = hashlib.sha256(b"Soto").digest()
    decrypted = []

    def decrypt(event):
        decrypted.append(event.Info.ID)
        return PollVoteMessage(selectedOptions=[soto])

    vote = action_of(incoming_event(update, msg_id="3EB0V2"), decrypt)
    assert decrypted == ["3EB0V2"]
    assert (vote["type"], vote["data"]["messageId"]) == ("poll.vote", "3EB0ORIGINAL")
    assert vote["data"]["selectedHashes"] == [soto.hex()]
    assert action_of(incoming_event(update)) is None  # no way to read it: not reported
    poll = {"name": "Lunch?", "options": ["Nasi", "Soto"], "selectableCount": 1}
    named = vote_named(poll, vote["data"])
    assert named["selected"] == ["Soto"]
    assert "selectedHashes" not in named
    assert vote_named(None, vote["data"])["selected"] == [soto.hex()]  # a poll not known here


def test_a_view_once_message_is_flagged(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    event = incoming_event(Message(conversation="once"), msg_id="3EB0ONCE")
    event.IsViewOnceV2 = True
    feed(client, event)
    feed(client, incoming_event(Message(conversation="always"), msg_id="3EB0MANY"))
    bodies = wait_until(
        lambda: len(b := backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="w1")) == 2 and b
    )
    flags = {b["message"]["id"]: b["message"].get("viewOnce") for b in bodies}
    assert flags == {"3EB0ONCE": True, "3EB0MANY": None}
