"""Chats and presence on a node: the shapes every engine and the backend use.

Chat: {"id": the chat's JID, "lastMessage": a history item | None, "unread": int, "archived",
"pinned": bool, "mutedUntil": ISO 8601 | None}.

Presence (the account's): available | unavailable. Chat presence (the account's in one chat):
typing | recording (a voice note) | paused. A contact's, as a `presence` engine event and a
`presence.update` webhook event: {contact, chat (a group where they type, else their own chat)
| None, state: available | unavailable | typing | recording | paused, lastSeen: ISO 8601 |
None (when their privacy shares it)}.
"""

from __future__ import annotations

import json
from typing import Any

from node_agent.protocol import user_jid

LIST_LIMIT_MAX = 100
READ_MAX = 500  # message ids one read call marks
PRESENCE_STATES = ("available", "unavailable")
CHAT_PRESENCE_STATES = ("typing", "recording", "paused")
CONTACT_PRESENCE_STATES = (*PRESENCE_STATES, *CHAT_PRESENCE_STATES)
CHAT_SERVERS = ("s.whatsapp.net", "g.us", "lid")
PRESENCE_UPDATED = "presence.update"


def chat_jid(value: object) -> str:
    """Return a chat's JID (`…@s.whatsapp.net`, `…@g.us`, `…@lid`). Raises ValueError."""
    jid = str(value)
    user, _, server = jid.partition("@")
    if server not in CHAT_SERVERS or not user.replace("-", "").isdigit():
        raise ValueError(f"not a chat JID: {jid[:60]!r}")
    return jid


def person_jid(value: object) -> str:
    """Return a person's JID (phone or LID). Raises ValueError."""
    jid = chat_jid(value)
    if jid.endswith("@g.us"):
        raise ValueError(f"not a person: {jid!r}")
    return jid


def loads(payload: Any) -> dict[str, Any]:
    """Return a stored message payload (JSON text or already a dict) as a dict."""
    if isinstance(payload, dict):
        return payload
    return json.loads(payload) if payload else {}


def sender_of(payload: Any, chat: str) -> str:
    """Return the sender JID of a stored incoming message (a group's member, else the chat)."""
    found = loads(payload).get("senderJid") or ""
    if found:
        return str(found)
    if chat.endswith("@g.us"):
        return ""
    return chat if "@" in chat else user_jid(chat)


def chat(
    jid: str,
    *,
    last_message: dict[str, Any] | None = None,
    unread: int = 0,
    archived: bool = False,
    pinned: bool = False,
    muted_until: str | None = None,
) -> dict[str, Any]:
    """Return a Chat (module docstring)."""
    return {
        "id": jid,
        "lastMessage": last_message,
        "unread": int(unread),
        "archived": bool(archived),
        "pinned": bool(pinned),
        "mutedUntil": muted_until or None,
    }
