"""Build the waE2E `Message` of every payload type the gateway sends (neonize 0.5.2).

Text, location, contact and reaction messages are plain protobufs built here, with no network.
Media messages go through neonize's `build_*_message` builders, which upload the bytes to
WhatsApp first; they always get bytes: given a `str`, neonize would read a path or fetch a URL
itself, past the gateway's URL checks. Reply and mention context is set on the sub-message
explicitly, so neonize never scans text for mentions.

neonize's protobuf modules are imported inside each builder, never at module level: importing
neonize starts a Go runtime, which must happen only in the node process (ffi.py).
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from node_agent import protocol

# Which field of `Message` holds each type's sub-message.
SUB_MESSAGE = {
    "text": "extendedTextMessage",
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "voice": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
    "location": "locationMessage",
    "contact": "contactMessage",
}


def context_info(payload: dict[str, Any], target: tuple[str, str]) -> Any | None:
    """Return the ContextInfo of `replyTo`/`mentions` (None when the payload has neither).

    `replyTo` is the quoted WhatsApp id; `replyToText` (the node adds it from its history)
    the quoted text; `mentions` E.164 digit strings.
    """
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo

    reply_to = payload.get("replyTo")
    mentions = [protocol.user_jid(m) for m in payload.get("mentions") or []]
    if not reply_to and not mentions:
        return None
    context = ContextInfo(mentionedJID=mentions)
    if reply_to:
        context.stanzaID = str(reply_to)
        user, server = target
        if server != "g.us":
            context.participant = f"{user}@{server}"
        if payload.get("replyToText"):
            context.quotedMessage.conversation = str(payload["replyToText"])
    return context


def build_text(payload: dict[str, Any], target: tuple[str, str]) -> Any:
    """Return a text Message: `conversation`, or `extendedTextMessage` with context."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage, Message

    text = str(payload.get("text") or "")
    context = context_info(payload, target)
    if context is None:
        return Message(conversation=text)
    return Message(extendedTextMessage=ExtendedTextMessage(text=text, contextInfo=context))


def build_location(payload: dict[str, Any]) -> Any:
    """Return a location Message (degrees; name and address optional)."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import LocationMessage, Message

    location = payload["location"]
    sub = LocationMessage(
        degreesLatitude=float(location["latitude"]),
        degreesLongitude=float(location["longitude"]),
    )
    if location.get("name"):
        sub.name = str(location["name"])
    if location.get("address"):
        sub.address = str(location["address"])
    return Message(locationMessage=sub)


def build_contact(payload: dict[str, Any]) -> Any:
    """Return a contact Message from `contact{name, vcard}` (the backend builds the vCard)."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContactMessage, Message

    contact = payload["contact"]
    return Message(
        contactMessage=ContactMessage(displayName=str(contact["name"]), vcard=contact["vcard"])
    )


def build_reaction(payload: dict[str, Any], target: tuple[str, str]) -> Any:
    """Return a reaction Message to `reaction.messageId` in the target chat.

    `reaction.fromMe` says whether the session sent the target message; an empty emoji removes
    the reaction. Built directly because neonize's `build_reaction` needs a connected client.
    """
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, ReactionMessage

    reaction = payload["reaction"]
    user, server = target
    key = MessageKey(
        remoteJID=f"{user}@{server}",
        fromMe=bool(reaction.get("fromMe")),
        ID=str(reaction["messageId"]),
    )
    return Message(
        reactionMessage=ReactionMessage(
            key=key,
            text=str(reaction.get("emoji") or ""),
            senderTimestampMS=int(time.time() * 1000),
        )
    )


def _own_key(message_id: str, target: tuple[str, str]) -> Any:
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey

    user, server = target
    return MessageKey(remoteJID=f"{user}@{server}", fromMe=True, ID=str(message_id))


def build_edit(payload: dict[str, Any], target: tuple[str, str]) -> Any:
    """Return the edit of a message the session sent (`edit.messageId`) to `text`, as whatsmeow's
    BuildEdit makes it (send.go): an editedMessage wrapping a MESSAGE_EDIT protocolMessage. Its
    SendMessage sees the edit and marks the stanza so; WhatsApp allows it within 15 minutes."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
        FutureProofMessage,
        Message,
        ProtocolMessage,
    )

    edit = ProtocolMessage(
        key=_own_key(payload["edit"]["messageId"], target),
        type=ProtocolMessage.MESSAGE_EDIT,
        editedMessage=Message(conversation=str(payload.get("text") or "")),
        timestampMS=int(time.time() * 1000),
    )
    return Message(editedMessage=FutureProofMessage(message=Message(protocolMessage=edit)))


def build_revoke(payload: dict[str, Any], target: tuple[str, str]) -> Any:
    """Return the revoke ("delete for everyone") of a message the session sent, as whatsmeow's
    BuildRevoke makes it for one's own message: a REVOKE protocolMessage with its key."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, ProtocolMessage

    key = _own_key(payload["revoke"]["messageId"], target)
    return Message(protocolMessage=ProtocolMessage(key=key, type=ProtocolMessage.REVOKE))


def build_poll(client: Any, payload: dict[str, Any]) -> Any:
    """Return a poll creation Message through neonize's `build_poll_vote_creation` (whatsmeow's
    BuildPollCreation: it adds the message secret votes are encrypted with). neonize takes the
    selectable count as its VoteType enum (MULTIPLE 0 = any, SINGLE 1) and passes on its
    `value`, so any count whatsmeow takes goes as such."""
    poll = payload["poll"]
    count = SimpleNamespace(value=int(poll.get("selectableCount", 1)))
    return client.build_poll_vote_creation(
        str(poll["name"]), [str(o) for o in poll["options"]], count
    )


def build_media(client: Any, payload: dict[str, Any], data: bytes) -> Any:
    """Return a media Message built (and uploaded) by neonize's builders from `data` bytes.

    Raises neonize's UploadError when the upload fails (nothing was sent).
    """
    type_ = payload["type"]
    media = payload.get("media") or {}
    caption = payload.get("text") or None
    once = bool(payload.get("viewOnce"))
    if type_ == "image":
        return client.build_image_message(data, caption=caption, viewonce=once)
    if type_ == "video":
        return client.build_video_message(data, caption=caption, viewonce=once)
    if type_ in ("audio", "voice"):
        return client.build_audio_message(data, ptt=type_ == "voice")
    if type_ == "document":
        filename = media.get("filename") or "document"
        return client.build_document_message(
            data,
            caption=caption,
            title=filename,
            filename=filename,
            mimetype=media.get("mimetype") or None,
        )
    if type_ == "sticker":
        # passthrough: the backend checked it is WebP; neonize sends it untouched.
        return client.build_sticker_message(data, passthrough=True)
    raise ValueError(f"not a media type: {type_!r}")


def build_message(
    client: Any, payload: dict[str, Any], target: tuple[str, str], data: bytes | None
) -> Any:
    """Return the waE2E Message of any payload type; media types need their `data` bytes.

    Reply and mention context is added to every type that has a `contextInfo`. Raises
    ValueError for an unknown type.
    """
    type_ = payload.get("type", "text")
    if type_ == "text":
        return build_text(payload, target)
    if type_ == "reaction":
        return build_reaction(payload, target)
    if type_ == "edit":
        return build_edit(payload, target)
    if type_ == "revoke":
        return build_revoke(payload, target)
    if type_ == "poll":
        return build_poll(client, payload)
    if type_ == "location":
        message = build_location(payload)
    elif type_ == "contact":
        message = build_contact(payload)
    elif type_ in protocol.MEDIA_TYPES:
        if data is None:
            raise ValueError("media bytes are required")
        message = build_media(client, payload, data)
    else:
        raise ValueError(f"unknown message type {type_!r}")
    context = context_info(payload, target)
    if context is not None:
        getattr(message, SUB_MESSAGE[type_]).contextInfo.MergeFrom(context)
    return message
