"""Turn neonize's protobuf events into the engine's plain dicts and reason words.

Pure functions over the protobuf objects neonize hands to handlers (duck-typed, so this module
never imports neonize). Enum numbers are those of neonize 0.5.2's `Neonize.proto`
(measured on neonize 0.5.2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from node_agent.clock import format_ts

# Neonize.proto ConnectFailureReason
CF_GENERIC = 1
CF_LOGGED_OUT = 2
CF_TEMP_BANNED = 3
CF_MAIN_DEVICE_GONE = 4
CF_UNKNOWN_LOGOUT = 5
CF_CLIENT_OUTDATED = 6
CF_BAD_USER_AGENT = 7
CF_INTERNAL_SERVER_ERROR = 8
CF_EXPERIMENTAL = 9
CF_SERVICE_UNAVAILABLE = 10
# Neonize.proto Receipt.ReceiptType (DELIVERED 1, READ 4, PLAYED 6; the rest are ignored)
RECEIPT_STATUS = {1: "delivered", 4: "read", 6: "read"}  # played → read: the runtime knows two
# Neonize.proto PairStatus.PStatus
PAIR_SUCCESS = 2  # ERROR 1, SUCCESS 2

LOGOUT_REASONS = {
    CF_LOGGED_OUT: "logged_out_from_phone",
    CF_MAIN_DEVICE_GONE: "main_device_gone",
    CF_UNKNOWN_LOGOUT: "unknown_logout",
}
# Connect failures that end the session for good (`failed`, no retry).
FATAL_FAILURES = {
    CF_TEMP_BANNED: "temporary_ban",
    CF_CLIENT_OUTDATED: "client_outdated",
    CF_BAD_USER_AGENT: "client_outdated",
}
# Connect failures worth another try later (`failed` with retry).
RETRY_FAILURES = {
    CF_GENERIC: "connect_failure",
    CF_EXPERIMENTAL: "connect_failure",
    CF_INTERNAL_SERVER_ERROR: "whatsapp_server_error",
    CF_SERVICE_UNAVAILABLE: "whatsapp_unavailable",
}
MS_THRESHOLD = 10**12  # a Unix time above this is in milliseconds (measured on neonize 0.5.2)


def jid_str(jid: Any, with_device: bool = False) -> str:
    """Return `user@server` of a neonize JID (`user:device@server` if `with_device`)."""
    if not jid.User:
        return jid.Server
    if with_device and jid.Device:
        return f"{jid.User}:{jid.Device}@{jid.Server}"
    return f"{jid.User}@{jid.Server}"


def iso_from_unix(value: int | float) -> str:
    """Return the UTC ISO 8601 timestamp of Unix seconds or milliseconds (auto-detected)."""
    seconds = value / 1000 if value > MS_THRESHOLD else value
    return format_ts(datetime.fromtimestamp(seconds, UTC))


def logout_reason(event: Any) -> str:
    """Return the reason word of a `LoggedOut` event (default: logged out from the phone)."""
    if event.HasField("Reason"):
        return LOGOUT_REASONS.get(event.Reason, "logged_out_from_phone")
    return "logged_out_from_phone"


def connect_failure(event: Any) -> tuple[str, str, bool]:
    """Classify a `ConnectFailure` event: (kind, reason, retry).

    kind is `logged_out` or `failed`; retry tells whether the engine tries again with back-off.
    """
    reason = event.Reason if event.HasField("Reason") else CF_GENERIC
    if reason in LOGOUT_REASONS:
        return "logged_out", LOGOUT_REASONS[reason], False
    if reason in FATAL_FAILURES:
        return "failed", FATAL_FAILURES[reason], False
    return "failed", RETRY_FAILURES.get(reason, "connect_failure"), True


def connect_error_reason(text: str) -> str:
    """Return the reason word for the text of a `NeonizeError` raised by `connect()`.

    The dial errors are whatsmeow's (neonize 0.5.2): DNS failure, refused or timed-out dial.
    """
    lowered = text.lower()
    if "database" in lowered:  # whatsmeow: "failed to upgrade database: ..."
        return "session_store_unavailable"
    if "dial" in lowered or "websocket" in lowered or "deadline exceeded" in lowered:
        return "whatsapp_unreachable"
    return "connect_failed"


def receipts(event: Any) -> list[tuple[str, str]]:
    """Return (wa_message_id, status) pairs of a `Receipt` event; [] for ignored types.

    An unset type is skipped: the encoder leaves server-error receipts untyped (neonize 0.5.2).
    """
    if not event.HasField("Type"):
        return []
    status = RECEIPT_STATUS.get(event.Type)
    return [(str(message_id), status) for message_id in event.MessageIDs] if status else []


def sender_phone(source: Any) -> str:
    """Return the sender's phone digits, preferring the phone-number JID over a hidden LID."""
    sender = source.Sender
    if sender.Server == "lid" and source.HasField("SenderAlt") and source.SenderAlt.User:
        return source.SenderAlt.User
    return sender.User


def enum_name(message: Any, field: str) -> str:
    """Return the name of a protobuf enum field's value (REVOKE, COMPOSING, …), "" if unknown."""
    values = message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number
    value = values.get(getattr(message, field))
    return value.name if value is not None else ""


def sender_ids(source: Any) -> dict[str, str | None]:
    """Return `fromPhone` (E.164 digits) and `fromLid` (`…@lid`) of a message's sender, each
    when WhatsApp tells it: whatsmeow's MessageSource has the JID the message came from
    (`Sender`, a phone JID or a LID) and, since the LID migration, the other form (`SenderAlt`)."""
    ids: dict[str, str | None] = {"fromPhone": None, "fromLid": None}
    alt = source.SenderAlt if source.HasField("SenderAlt") else None
    for jid in (source.Sender, alt):
        if jid is None or not jid.User:
            continue
        if jid.Server == "lid":
            ids["fromLid"] = ids["fromLid"] or f"{jid.User}@lid"
        elif jid.Server == "s.whatsapp.net":
            ids["fromPhone"] = ids["fromPhone"] or jid.User
    return ids


def _context(sub: Any) -> dict[str, Any]:
    if not sub.HasField("contextInfo"):
        return {}
    context = sub.contextInfo
    out: dict[str, Any] = {}
    if context.stanzaID:
        out["quotedId"] = context.stanzaID
    if context.mentionedJID:
        out["mentions"] = [jid.split("@")[0] for jid in context.mentionedJID]
    return out


# waE2E Message field of each media sub-message → its message type.
MEDIA_FIELDS = (
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("audioMessage", "audio"),
    ("documentMessage", "document"),
    ("stickerMessage", "sticker"),
)


def content_of(message: Any) -> dict[str, Any] | None:
    """Return type, text and media descriptor of a waE2E Message; None if nothing to report."""
    if message.conversation:
        return {"type": "text", "text": message.conversation}
    if message.HasField("extendedTextMessage"):
        sub = message.extendedTextMessage
        return {"type": "text", "text": sub.text, **_context(sub)}
    for field, type_ in MEDIA_FIELDS:
        if not message.HasField(field):
            continue
        sub = getattr(message, field)
        if type_ == "audio" and sub.PTT:
            type_ = "voice"
        media: dict[str, Any] = {"mimetype": sub.mimetype, "size": int(sub.fileLength)}
        out: dict[str, Any] = {"type": type_, "media": media, **_context(sub)}
        caption = getattr(sub, "caption", "") if type_ in ("image", "video", "document") else ""
        if caption:
            media["caption"] = caption
            out["text"] = caption
        if type_ == "document":
            media["filename"] = sub.fileName or sub.title
        return out
    if message.HasField("locationMessage"):
        sub = message.locationMessage
        return {
            "type": "location",
            "location": {
                "latitude": sub.degreesLatitude,
                "longitude": sub.degreesLongitude,
                "name": sub.name,
                "address": sub.address,
            },
        }
    if message.HasField("contactMessage"):
        sub = message.contactMessage
        return {"type": "contact", "contact": {"name": sub.displayName, "vcard": sub.vcard}}
    return None  # reactions, revokes, edits, key distribution, polls: not reported yet


def incoming(event: Any) -> dict[str, Any] | None:
    """Return the engine's `incoming` dict of a `Message` event, or None to skip it.

    Skipped: our own messages (sent from another linked device) and messages with no content
    the gateway reports yet. Keys: id, from (phone digits, else the LID's number), chatId, type,
    timestamp, pushName, isGroup, senderJid, fromPhone, fromLid (`sender_ids`), text?, media?
    {mimetype, size, caption?, filename?}, quotedId?, mentions?, location?, contact?.
    """
    info = event.Info
    source = info.MessageSource
    if source.IsFromMe:
        return None
    content = content_of(event.Message)
    if content is None:
        return None
    return {
        "id": info.ID,
        "from": sender_phone(source),
        "chatId": jid_str(source.Chat),
        "timestamp": iso_from_unix(info.Timestamp) if info.Timestamp else None,
        "pushName": info.Pushname,
        "isGroup": bool(source.IsGroup),
        "senderJid": jid_str(source.Sender),
        **sender_ids(source),
        **content,
        # whatsmeow unwraps a view-once message and says so (events.Message.IsViewOnce*)
        **({"viewOnce": True} if _view_once(event) else {}),
    }


def _view_once(event: Any) -> bool:
    return any(
        getattr(event, f, False) for f in ("IsViewOnce", "IsViewOnceV2", "IsViewOnceV2Extension")
    )
