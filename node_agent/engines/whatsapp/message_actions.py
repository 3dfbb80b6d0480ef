"""Reactions, edits and revokes WhatsApp delivers, as the engine's `event` events
(node_agent/message_actions.py shapes). Duck-typed over neonize's protobufs.

whatsmeow hands them over as messages (types/events/events.go Message; message.go unwraps an
edit, setting IsEdit): a `reactionMessage` {key: the message reacted to, text: the emoji, ""
when taken back}; a `protocolMessage` of type REVOKE {key} (deleted for everyone) or
MESSAGE_EDIT {key, editedMessage: the new content}. Our own (from another linked device) are
not reported.
"""

from __future__ import annotations

from typing import Any

from node_agent.engines.whatsapp import mapping
from node_agent.message_actions import EDITED, REACTION, READ, REVOKED, VOTE, action_event


def group_reads(event: Any) -> list[dict[str, Any]]:
    """Return a message.read `event` per message of a neonize Receipt event in which a member of
    a group read messages the session sent (whatsmeow's Receipt: MessageSource.IsGroup, Sender
    the reader, Type read), else []."""
    source = event.MessageSource
    if not source.IsGroup or mapping.receipts(event)[:1] != [(event.MessageIDs[0], "read")]:
        return []
    reader = mapping.jid_str(source.Sender)
    at = mapping.iso_from_unix(event.Timestamp) if event.Timestamp else None
    who = {"from": mapping.sender_phone(source), "senderJid": reader}
    return [
        action_event(
            READ,
            wa_id=f"{message_id}:{reader}",
            chatId=mapping.jid_str(source.Chat),
            messageId=str(message_id),
            **who,
            **mapping.sender_ids(source),
            timestamp=at,
        )
        for message_id in event.MessageIDs
    ]


def action_of(event: Any, decrypt_vote: Any = None) -> dict[str, Any] | None:
    """Return the `event` event (emit()'s keywords) of a neonize Message event that reacts to,
    edits or revokes a message or votes in a poll, else None (an ordinary message, or one of
    ours). `decrypt_vote(event)` is the client's `decrypt_poll_vote` (neonize's PollVoteMessage:
    `selectedOptions`, each the SHA-256 of an option's text); without it votes are not read."""
    info = event.Info
    source = info.MessageSource
    message = event.Message
    if source.IsFromMe:
        return None
    base = {
        "chatId": mapping.jid_str(source.Chat),
        "from": mapping.sender_phone(source),  # as message.received's
        "senderJid": mapping.jid_str(source.Sender),
        **mapping.sender_ids(source),
        "timestamp": mapping.iso_from_unix(info.Timestamp) if info.Timestamp else None,
    }
    if message.HasField("pollUpdateMessage"):
        if decrypt_vote is None:
            return None
        vote = decrypt_vote(event)
        return action_event(
            VOTE,
            wa_id=info.ID,
            messageId=message.pollUpdateMessage.pollCreationMessageKey.ID,
            selectedHashes=[bytes(h).hex() for h in vote.selectedOptions],
            **base,
        )
    if message.HasField("reactionMessage"):
        reaction = message.reactionMessage
        return action_event(
            REACTION, wa_id=info.ID, messageId=reaction.key.ID, emoji=reaction.text, **base
        )
    if not message.HasField("protocolMessage"):
        return None
    protocol_message = message.protocolMessage
    kind = mapping.enum_name(protocol_message, "type")
    if kind == "REVOKE":
        return action_event(REVOKED, wa_id=info.ID, messageId=protocol_message.key.ID, **base)
    if kind == "MESSAGE_EDIT":
        content = mapping.content_of(protocol_message.editedMessage) or {}
        return action_event(
            EDITED,
            wa_id=info.ID,
            messageId=protocol_message.key.ID,
            text=content.get("text", ""),
            **base,
        )
    return None
