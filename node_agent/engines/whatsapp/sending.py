"""Sending through the WhatsApp engine: messages of every type, and number checks.

A message goes to a connected run only. Its recipient is resolved first: a phone number is
checked with WhatsApp (`is_on_whatsapp`, remembered per run), other JIDs (groups, `@lid`,
newsletters) are used as given. Media bytes are fetched from the backend (`media.id`) and
uploaded to WhatsApp by neonize's builders (builders.py). Which errors mean "nothing was sent"
is decided here (measured on neonize 0.5.2): the runtime never resends after any other error.
"""

from __future__ import annotations

from typing import Any

import requests

from node_agent import protocol
from node_agent.backend import MediaUnavailable, media_fetch
from node_agent.config import NodeConfig
from node_agent.engines.base import PermanentSendError, TransientSendError
from node_agent.engines.whatsapp import builders, mapping
from node_agent.engines.whatsapp.ffi import FfiGate, load_neonize
from node_agent.engines.whatsapp.registry import SessionRegistry
from node_agent.engines.whatsapp.run import SessionRun

SUPPORTED_TYPES = ("text", "location", "contact", "reaction", *protocol.MEDIA_TYPES)
# Send errors after which nothing left this process (whatsmeow's texts, neonize 0.5.2).
NOT_SENT_ERRORS = ("client is nil", "websocket not connected", "doesn't contain a device jid")


class Sender:
    """Send messages through the connected runs of `registry`, every FFI call under `gate`."""

    def __init__(self, config: NodeConfig, gate: FfiGate, registry: SessionRegistry) -> None:
        self._config = config
        self._gate = gate
        self._registry = registry

    def _connected_run(self, session_id: str) -> SessionRun:
        run = self._registry.get(session_id)
        if run is None or run.state != "connected" or not run.connect_running:
            raise TransientSendError("session_not_connected", "Session is not connected.")
        return run

    def send(self, session_id: str, payload: dict[str, Any]) -> str:
        """Send a message of any type (with `replyTo`, `mentions`) and return its WhatsApp id.

        Raises TransientSendError `session_not_connected`, `media_upload_failed` or
        `media_unavailable` (network), PermanentSendError `unsupported_type`,
        `recipient_not_on_whatsapp` or `media_unavailable`; other errors leave the fate unknown.
        """
        if payload.get("type", "text") not in SUPPORTED_TYPES:
            raise PermanentSendError("unsupported_type", f"Unsupported type {payload['type']!r}.")
        run = self._connected_run(session_id)
        target = self._target(run, payload)
        data = self._media_bytes(payload) if payload.get("type") in protocol.MEDIA_TYPES else None
        neonize = load_neonize(self._config.neonize_log_level)
        try:
            with self._gate.shared():
                message = builders.build_message(run.client, payload, target, data)
        except neonize.UploadError as exc:  # nothing was sent; WhatsApp's media host failed
            raise TransientSendError("media_upload_failed", str(exc)) from exc
        try:
            with self._gate.shared():
                response = run.client.send_message(neonize.build_jid(*target), message)
        except neonize.SendMessageError as exc:
            if any(text in str(exc).lower() for text in NOT_SENT_ERRORS):
                raise TransientSendError("session_not_connected", str(exc)) from exc
            raise
        return str(response.ID)

    def check_number(self, session_id: str, phone: str) -> str | None:
        """Return the JID of `phone` (E.164 digits) if it is on WhatsApp, else None.

        Raises TransientSendError `session_not_connected` when it cannot ask WhatsApp.
        """
        run = self._connected_run(session_id)
        digits = protocol.digits(phone)
        return self._lookup(run, digits) if digits else None

    def typing(self, session_id: str, payload: dict[str, Any], composing: bool) -> None:
        """Show (`composing`) or clear "typing…" in the chat `payload` is sent to.

        whatsmeow's SendChatPresence ("updates the user's typing status in a specific chat",
        presence.go), through neonize's `send_chat_presence`: ChatPresence COMPOSING or PAUSED,
        media TEXT; composing, a pause, paused, then the message, as Baileys' own example does
        (Example/example.ts, `sendMessageWTyping`). The chat is resolved as `send` resolves it.
        Raises TransientSendError `session_not_connected`, PermanentSendError
        `recipient_not_on_whatsapp`, neonize's SendPresenceError when WhatsApp refuses.
        """
        run = self._connected_run(session_id)
        target = self._target(run, payload)
        neonize = load_neonize(self._config.neonize_log_level)
        state, media = chat_presence(neonize, composing)
        with self._gate.shared():
            run.client.send_chat_presence(neonize.build_jid(*target), state, media)

    def _media_bytes(self, payload: dict[str, Any]) -> bytes:
        media = payload.get("media") or {}
        if not media.get("id"):
            raise PermanentSendError("media_unavailable", "The payload names no media id.")
        try:
            return media_fetch(self._config.backend_url, self._config.backend_auth_token, media)
        except MediaUnavailable as exc:
            raise PermanentSendError("media_unavailable", str(exc)) from exc
        except requests.RequestException as exc:
            raise TransientSendError("media_unavailable", type(exc).__name__) from exc

    def _target(self, run: SessionRun, payload: dict[str, Any]) -> tuple[str, str]:
        """Return (user, server) to send to; phone numbers are checked with WhatsApp first."""
        chat_id = str(payload.get("chatId") or "")
        user, _, server = chat_id.partition("@")
        user = user.split(":")[0]
        if server and server != protocol.USER_SERVER:
            return user, server  # groups, @lid, newsletters: as given
        digits = protocol.digits(payload.get("to") or user)
        jid = run.resolved.get(digits) or self._lookup(run, digits)
        if jid is None:
            raise PermanentSendError("recipient_not_on_whatsapp", f"{digits} is not on WhatsApp.")
        run.resolved[digits] = jid
        user, _, server = jid.partition("@")
        return user, server

    def _lookup(self, run: SessionRun, digits: str) -> str | None:
        neonize = load_neonize(self._config.neonize_log_level)
        try:
            with self._gate.shared():
                answers = run.client.is_on_whatsapp("+" + digits)
        except neonize.IsOnWhatsAppError as exc:
            raise TransientSendError("session_not_connected", str(exc)) from exc
        for answer in answers:
            if answer.IsIn:
                return mapping.jid_str(answer.JID)
        return None


def chat_presence(neonize: Any, composing: bool) -> tuple[Any, Any]:
    """Return neonize's (ChatPresence, ChatPresenceMedia) of "typing…" on (`composing`) or off,
    from `neonize` (the `neonize.client` module)."""
    presence = neonize.ChatPresence
    state = presence.CHAT_PRESENCE_COMPOSING if composing else presence.CHAT_PRESENCE_PAUSED
    return state, neonize.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
