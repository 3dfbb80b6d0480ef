"""The events webhooks and the live stream carry, for the OpenAPI schema's `x-webhooks` (OpenAPI
3.0 has no `webhooks` section; 3.1's shape is used under the extension name): one POST per
event type, its body the envelope {id, type, timestamp, sessionId, data} with an example `data`.
A test checks that every type of sessions_app.webhooks.models.EVENT_TYPES has one here."""

from __future__ import annotations

from typing import Any

S = "ses_3k1m9x2v7q8p4w6z"
ANA = "6281200000177@s.whatsapp.net"
GROUP = "120363041234567890@g.us"
AT = "2026-12-07T09:30:00.000000Z"
_MESSAGE = {"chatId": ANA, "messageId": "3EB0A1B2C3D4E5F6", "from": ANA[:13], "senderJid": ANA,
            "fromPhone": ANA[:13]}  # fmt: skip

EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "message.received": (
        "A message came in",
        {"sessionId": S, "message": {"id": "3EB0F00D", "from": ANA[:13], "chatId": ANA,
         "type": "text", "text": "Halo", "timestamp": AT, "pushName": "Ana",
         "fromPhone": ANA[:13], "fromLid": "97710000021826@lid"}},
    ),
    "message.status": (
        "A sent message moved on: sent, delivered, read or failed",
        {"sessionId": S, "messageId": "msg_7d1x2", "status": "read", "waMessageId": "3EB0AB"},
    ),
    "session.status": (
        "A session's status changed",
        {"sessionId": S, "status": "CONNECTED", "phoneNumber": "6281200000100"},
    ),
    "session.qr": ("A new QR code while a phone links", {"sessionId": S, "qrString": "2@…"}),
    "usage.threshold": (
        "80% or 100% of a quota used",
        {"tier": "BASIC", "period": "day", "used": 800, "limit": 1000, "threshold": 80},
    ),
    "group.joined": ("The account is in a new group", {"sessionId": S, "group": GROUP,
                     "by": ANA, "info": {"id": GROUP, "subject": "Kopi pagi"}}),
    "group.left": ("The account left a group", {"sessionId": S, "group": GROUP, "by": ANA}),
    "group.participants": (
        "Members added, removed, promoted or demoted",
        {"sessionId": S, "group": GROUP, "by": ANA, "action": "promote",
         "participants": ["6281200000002@s.whatsapp.net"]},
    ),
    "group.updated": (
        "A group's subject, description, picture or settings changed",
        {"sessionId": S, "group": GROUP, "by": ANA, "changes": {"subject": "Kopi sore"}},
    ),
    "contact.updated": (
        "A contact's push name or picture changed",
        {"sessionId": S, "contact": ANA, "phone": ANA[:13], "lid": "97710000021826@lid",
         "changes": {"pushName": "Ana's Shop"}},
    ),
    "presence.update": (
        "A subscribed contact is online, offline, typing, recording or paused",
        {"sessionId": S, "contact": ANA, "chat": None, "state": "typing", "lastSeen": None},
    ),
    "message.reaction": ("A contact reacted to a message", {"sessionId": S, **_MESSAGE,
                         "emoji": "👍", "timestamp": AT}),
    "message.edited": ("A contact edited a message", {"sessionId": S, **_MESSAGE,
                       "text": "Halo!", "timestamp": AT}),
    "message.revoked": ("A contact deleted a message for everyone", {"sessionId": S,
                        **_MESSAGE, "timestamp": AT}),
    "message.read": ("A group's member read a message the session sent", {"sessionId": S,
                     **_MESSAGE, "chatId": GROUP, "timestamp": AT}),
    "poll.vote": ("A contact voted in the session's poll (messageId: the poll)", {"sessionId": S,
                  **_MESSAGE, "selected": ["Soto"], "timestamp": AT}),
    "chat.updated": ("A chat was read, archived, pinned, muted or deleted here", {"sessionId": S,
                     "chatId": ANA, "archived": False, "pinned": True, "mutedUntil": None,
                     "unread": 0}),
    "call.received": ("A call rings", {"sessionId": S, "from": ANA, "callId": "5F1A",
                      "at": AT, "video": None}),
    "call.rejected": ("The session's policy declined a call", {"sessionId": S, "from": ANA,
                      "callId": "5F1A", "message": "Please write instead."}),
}  # fmt: skip


def webhooks() -> dict[str, Any]:
    """Return the `x-webhooks` section: one POST operation per event type."""
    found = {}
    for type_, (summary, data) in EXAMPLES.items():
        example = {"id": "evt_5tq2n8w1k3j7", "type": type_, "timestamp": AT, "sessionId": S}
        schema = {
            "type": "object",
            "required": ["id", "type", "timestamp", "sessionId", "data"],
            "properties": {
                "id": {"type": "string", "description": "The event's id (webhook-id header)"},
                "type": {"type": "string", "enum": [type_]},
                "timestamp": {"type": "string", "format": "date-time"},
                "sessionId": {"type": "string", "nullable": True},
                "data": {"type": "object"},
            },
        }
        found[type_] = {
            "post": {
                "summary": summary,
                "description": "Signed with Standard Webhooks headers; also on the event stream.",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": schema,
                            "example": {**example, "data": data},
                        }
                    }
                },
                "responses": {"200": {"description": "Any 2xx: delivered."}},
            }
        }
    return found
