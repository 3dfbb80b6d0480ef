"""Presence, chat presence and read receipts through the WhatsApp engine (neonize 0.5.2), and the
presence events whatsmeow reports, as the engine's `presence` events (node_agent/chats.py).

Calls (neonize client.py → whatsmeow presence.go, receipt.go), each under the FFI gate:

- `send_presence(Presence.AVAILABLE | UNAVAILABLE)`. whatsmeow refuses it before the account has
  a push name (ErrNoPushName, which WhatsApp sets on pairing);
- `send_chat_presence(jid, state, media)`: typing is COMPOSING with TEXT, recording (a voice
  note) COMPOSING with AUDIO, paused PAUSED;
- `mark_read(*ids, chat=, sender=, receipt=ReceiptType.READ)`: one call per sender (a group's
  messages come from several; a person's chat has one sender, who is the chat);
- `subscribe_presence(jid)`: WhatsApp then sends the person's presence (only while the account
  itself is available, whatsmeow's docs say), reported as below.

Events (whatsmeow types/events/events.go), duck-typed over neonize's protobufs:

    Presence {From, Unavailable, LastSeen (Unix s; 0 unknown)} → {contact: From,
        state: available | unavailable, lastSeen: ISO 8601 | None}
    ChatPresence {MessageSource (Chat, Sender, IsGroup), State COMPOSING | PAUSED,
        Media TEXT | AUDIO} → {contact: Sender, chat: Chat in a group (else None),
        state: typing | recording | paused}

Both carry no id of WhatsApp's: the event id is random (each is one moment's state).
"""

from __future__ import annotations

import secrets
from typing import Any

from node_agent.engines.base import CallRefused
from node_agent.engines.whatsapp import mapping
from node_agent.engines.whatsapp.contacts import call_refused, error_text
from node_agent.engines.whatsapp.ffi import FfiGate, load_neonize
from node_agent.engines.whatsapp.registry import SessionRegistry

EVENT_CLASSES = ("PresenceEv", "ChatPresenceEv")


def presence_of(event: Any) -> dict[str, Any] | None:
    """Return the `presence` event (emit()'s keywords) of a neonize Presence or ChatPresence
    event (module docstring), or None for another."""
    kind = event.DESCRIPTOR.name
    if kind == "Presence":
        last_seen = int(event.LastSeen or 0)
        return {
            "event_id": secrets.token_hex(16),
            "contact": mapping.jid_str(event.From),
            "chat": None,
            "state": "unavailable" if event.Unavailable else "available",
            "lastSeen": mapping.iso_from_unix(last_seen) if last_seen else None,
        }
    if kind == "ChatPresence":
        source = event.MessageSource
        if mapping.enum_name(event, "State") == "COMPOSING":
            state = "recording" if mapping.enum_name(event, "Media") == "AUDIO" else "typing"
        else:
            state = "paused"
        return {
            "event_id": secrets.token_hex(16),
            "contact": mapping.jid_str(source.Sender),
            "chat": mapping.jid_str(source.Chat) if source.IsGroup else None,
            "state": state,
            "lastSeen": None,
        }
    return None


class PresenceCalls:
    """The WhatsApp engine's presence and read calls on the runs of `registry`. Each raises
    CallRefused: `session_not_connected` before any call when the session is not connected,
    else the code call_refused gives neonize's error text."""

    def __init__(self, config: Any, gate: FfiGate, registry: SessionRegistry) -> None:
        self._config = config
        self._gate = gate
        self._registry = registry

    def _call(self, session_id: str, method: str, *args: Any, **kwargs: Any) -> None:
        run = self._registry.get(session_id)
        if run is None or run.state != "connected" or not run.connect_running:
            raise CallRefused("session_not_connected", "Session is not connected.")
        neonize = load_neonize(self._config.neonize_log_level)
        try:
            with self._gate.shared():
                getattr(run.client, method)(*args, **kwargs)
        except neonize.NeonizeError as exc:
            raise call_refused(error_text(exc)) from exc

    def _jid(self, jid: str) -> Any:
        user, _, server = jid.partition("@")
        return load_neonize(self._config.neonize_log_level).build_jid(user, server)

    def presence_set(self, session_id: str, available: bool) -> None:
        from neonize.utils.enum import Presence  # lazy: neonize (ffi.py)

        self._call(
            session_id, "send_presence", Presence.AVAILABLE if available else Presence.UNAVAILABLE
        )

    def chat_presence(self, session_id: str, chat: str, state: str) -> None:
        from neonize.utils.enum import ChatPresence, ChatPresenceMedia  # lazy: neonize

        composing = ChatPresence.CHAT_PRESENCE_COMPOSING
        paused = ChatPresence.CHAT_PRESENCE_PAUSED
        media = (
            ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO
            if state == "recording"
            else (ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)
        )
        self._call(
            session_id,
            "send_chat_presence",
            self._jid(chat),
            paused if state == "paused" else composing,
            media,
        )

    def mark_read(self, session_id: str, chat: str, items: list[tuple[str, str]]) -> None:
        from neonize.utils.enum import ReceiptType  # lazy: neonize

        by_sender: dict[str, list[str]] = {}
        for wa_id, sender in items:
            by_sender.setdefault(sender or chat, []).append(wa_id)
        for sender, ids in by_sender.items():
            self._call(
                session_id,
                "mark_read",
                *ids,
                chat=self._jid(chat),
                sender=self._jid(sender),
                receipt=ReceiptType.READ,
            )

    def presence_subscribe(self, session_id: str, jid: str) -> None:
        self._call(session_id, "subscribe_presence", self._jid(jid))

    def call_reject(self, session_id: str, caller: str, call_id: str) -> None:
        """Decline a ringing call: neonize `reject_call` (whatsmeow RejectCall), with the
        caller's JID as the offer named it (calls.py)."""
        self._call(session_id, "reject_call", self._jid(caller), call_id)
