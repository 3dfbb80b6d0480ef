"""Contact changes a session learns of, reported as `contact.updated` (protocol.SessionEventReport).

Two sources, both known only once WhatsApp tells them:

- the engines' `contact` events (engines/base.py): the WhatsApp engine's contact pictures set or
  removed (whatsmeow's events.Picture of a person's JID); the sandbox's sessions that change
  their own push name or picture, told to the sandbox sessions that know them;
- the push name of every incoming message: WhatsApp sends the sender's current push name with
  each message (whatsmeow's MessageInfo.PushName). When it differs from the last one this node
  saw of that contact for that session, the contact renamed themselves. whatsmeow reports this
  as events.PushName, which neonize 0.5.2 does not hand over, so the node compares itself. A
  contact's first message records the name without an event (nothing changed that we knew of);
  a rename of someone who never writes is not seen.

ContactNames keeps the last push name per (session, contact) in the node's SQLite file, so a
restart of the node misses no rename. Event data: {contact (the JID WhatsApp used), phone
(digits) | null, lid | null, changes: {pushName?: str, picture?: bool (set or removed)}}.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from node_agent import contacts
from node_agent.schema import OwnTables, write_transaction

CONTACT_UPDATED = "contact.updated"
SCHEMA = """
CREATE TABLE IF NOT EXISTS contact_names (
    session_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    push_name TEXT NOT NULL,
    PRIMARY KEY (session_id, contact)
);
"""
CACHE_MAX = 100_000  # (session, contact) names kept in memory besides the table


def event_id(*parts: Any) -> str:
    """Return an event's id: 32 hex digits of the SHA-256 of `parts` (JSON-able) as JSON."""
    text = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def contact_event(
    contact: str,
    changes: dict[str, Any],
    *,
    key: Any,
    phone: str | None = None,
    lid: str | None = None,
) -> dict[str, Any]:
    """Return an engine's `contact` event (keys `event_id`, `contact`, `phone`, `lid`,
    `changes`); `phone` and `lid` default to what the JID `contact` says, `key` (JSON-able)
    is what makes the change unique (the same for a repeat of one notification)."""
    person = contacts.contact(contact, phone=phone, lid=lid)
    return {
        "event_id": event_id("contact", contact, changes, key),
        "contact": contact,
        "phone": person["phone"],
        "lid": person["lid"],
        "changes": changes,
    }


def sender_of(incoming: dict[str, Any]) -> str | None:
    """Return the JID of an incoming message's sender (a person), or None if it names none."""
    jid = incoming.get("senderJid") or ("" if incoming.get("isGroup") else incoming.get("chatId"))
    return jid if jid and jid.endswith(("@s.whatsapp.net", "@lid")) else None


def name_key(contact: str, phone: str | None = None, lid: str | None = None) -> str:
    """Return the key ContactNames keeps a person under: their phone JID when known, else their
    LID, so one contact has one name whichever form WhatsApp addressed them with."""
    who = contacts.contact(contact, phone=phone, lid=lid)
    return f"{who['phone']}@{contacts.PHONE_SERVER}" if who["phone"] else who["lid"] or contact


class ContactNames(OwnTables):
    """The last push name seen of each contact, per session, in the node's SQLite file at
    `path` (its own connection and table), with an in-memory cache in front."""

    SCHEMA = SCHEMA

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._cache: dict[tuple[str, str], str] = {}

    def seen(self, session_id: str, contact: str, push_name: str) -> str | None:
        """Record `push_name` as the contact's; return the name it replaces, or None when the
        contact had none recorded or the same one."""
        key = (session_id, contact)
        with self._lock:
            before = self._cache.get(key)
            if before is None:
                row = self._conn.execute(
                    "SELECT push_name FROM contact_names WHERE session_id = ? AND contact = ?",
                    key,
                ).fetchone()
                before = row[0] if row else None
            if before != push_name:
                with write_transaction(self._conn):
                    self._conn.execute(
                        "INSERT OR REPLACE INTO contact_names VALUES (?, ?, ?)", (*key, push_name)
                    )
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = push_name
        return before if before not in (None, push_name) else None

    def forget(self, session_id: str) -> None:
        """Delete what is kept of the session (it was deleted)."""
        with self._lock:
            self._conn.execute("DELETE FROM contact_names WHERE session_id = ?", (session_id,))
            self._cache = {k: v for k, v in self._cache.items() if k[0] != session_id}


def renamed(
    names: ContactNames, session_id: str, incoming: dict[str, Any]
) -> dict[str, Any] | None:
    """Return the `contact` event of an incoming message whose sender's push name changed since
    the last message of theirs this node saw (module docstring), else None."""
    push_name = incoming.get("pushName")
    sender = sender_of(incoming)
    if not push_name or sender is None:
        return None
    phone, lid = incoming.get("fromPhone"), incoming.get("fromLid")
    if names.seen(session_id, name_key(sender, phone, lid), str(push_name)) is None:
        return None
    changes = {"pushName": str(push_name)}
    return contact_event(sender, changes, key=incoming.get("id"), phone=phone, lid=lid)
