"""Presence and reads of the sandbox (the chat calls of node_agent.engines.base).

What the account does is recorded where tests and integrations can read it (`chat_states` for
typing, recording and paused; `presence_log` for available/unavailable and read receipts sent).
What contacts do is simulated:

- subscribing to a contact's presence answers at once with a `presence` event: `available`, or
  for a `…96` number (private) `unavailable` with no last seen;
- the `presence` sandbox action {from, state, chat?} is a contact going online, offline, typing,
  recording or pausing, in their chat with the session or in a group (`chat`). As WhatsApp
  does, online and offline come only for contacts the session subscribed to and while the
  account is available (not after it set itself unavailable); a number not on WhatsApp
  (`…99`) does nothing;
- the `call` sandbox action {from, video?} is a contact calling: a `call` event; declining it
  is recorded in `presence_log` ({kind: call_rejected, from, callId}).
"""

from __future__ import annotations

import secrets
from collections import deque
from typing import Any

from node_agent import chats, contacts, protocol
from node_agent.clock import utc_now_iso
from node_agent.engines.base import CallRefused

PRESENCE_LOG_KEPT = 1000
STATE_NAMES = {"typing": "composing", "recording": "recording", "paused": "paused"}


class SandboxPresence:
    """The presence calls of SandboxEngine (a mixin: it uses the engine's sessions, lock,
    scheduler, chat states and its contacts' book)."""

    _sessions: dict[str, Any]
    _lock: Any
    _chat_states: deque[dict[str, str]]
    _presence_log: deque[dict[str, Any]] | None = None
    _subscribed: set[tuple[str, str]] | None = None  # (session, contact JID)
    _away: set[str] | None = None  # sessions that set themselves unavailable

    def _presence_session(self, session_id: str) -> Any:
        session = self._sessions.get(session_id)
        if session is None or session.state != "connected":
            raise CallRefused("session_not_connected", "Session is not connected.")
        return session

    def _log(self, session_id: str, **entry: Any) -> None:
        if self._presence_log is None:
            self._presence_log = deque(maxlen=PRESENCE_LOG_KEPT)
        self._presence_log.append({"sessionId": session_id, "at": utc_now_iso(), **entry})

    def presence_log(self, session_id: str) -> list[dict[str, Any]]:
        """Return what the session told WhatsApp, oldest first: {kind: presence, state} and
        {kind: read, chat, ids}."""
        with self._lock:
            log = self._presence_log or ()
            return [dict(e) for e in log if e["sessionId"] == session_id]

    def presence_set(self, session_id: str, available: bool) -> None:
        with self._lock:
            self._presence_session(session_id)
            if self._away is None:
                self._away = set()
            (self._away.discard if available else self._away.add)(session_id)
            self._log(
                session_id, kind="presence", state="available" if available else "unavailable"
            )

    def chat_presence(self, session_id: str, chat: str, state: str) -> None:
        with self._lock:
            self._presence_session(session_id)
            self._chat_states.append(
                {
                    "sessionId": session_id,
                    "chatId": chat,
                    "state": STATE_NAMES[state],
                    "at": utc_now_iso(),
                }
            )

    def mark_read(self, session_id: str, chat: str, items: list[tuple[str, str]]) -> None:
        with self._lock:
            self._presence_session(session_id)
            self._log(session_id, kind="read", chat=chat, ids=[wa_id for wa_id, _sender in items])

    def presence_subscribe(self, session_id: str, jid: str) -> None:
        with self._lock:
            session = self._presence_session(session_id)
            phone = contacts.phone_of(jid) or ""
            if jid.endswith("@s.whatsapp.net") and (not phone or phone.endswith("99")):
                raise CallRefused("contact_not_found", f"{jid} is not on WhatsApp (sandbox).")
            if self._subscribed is None:
                self._subscribed = set()
            self._subscribed.add((session_id, jid))
            private = phone.endswith("96")
            state = "unavailable" if private else "available"
            self._later(0, session, self._presence_emit, jid, state, None)  # type: ignore[attr-defined]

    def call_reject(self, session_id: str, caller: str, call_id: str) -> None:
        with self._lock:
            self._presence_session(session_id)
            self._log(session_id, kind="call_rejected", **{"from": caller, "callId": call_id})

    def _call_action(self, session: Any, params: dict[str, Any]) -> None:
        """The `call` sandbox action (module docstring)."""
        caller = protocol.digits(params.get("from"))
        if not caller:
            return
        call_id = secrets.token_hex(16).upper()
        self.emit(  # type: ignore[attr-defined]
            session.session_id,
            "call",
            event_id=secrets.token_hex(16),
            callId=call_id,
            at=utc_now_iso(),
            video=bool(params.get("video")),
            **{"from": protocol.user_jid(caller)},
        )

    def _presence_action(self, session: Any, params: dict[str, Any]) -> None:
        """The `presence` sandbox action (module docstring); a bad one is ignored, logged."""
        state = str(params.get("state") or "")
        sender = protocol.digits(params.get("from"))
        if state not in chats.CONTACT_PRESENCE_STATES or not sender or sender.endswith("99"):
            return
        jid = protocol.user_jid(sender)
        if state in chats.PRESENCE_STATES and (
            (session.session_id, jid) not in (self._subscribed or ())
            or session.session_id in (self._away or ())
        ):
            return  # WhatsApp sends these to subscribers only, while they are available
        self._presence_emit(session, jid, state, params.get("chat") or None)

    def _presence_emit(self, session: Any, jid: str, state: str, chat: str | None) -> None:
        last_seen = (
            utc_now_iso()
            if state == "unavailable" and not jid.split("@")[0].endswith("96")
            else None
        )
        self.emit(  # type: ignore[attr-defined]
            session.session_id,
            "presence",
            event_id=secrets.token_hex(16),
            contact=jid,
            chat=chat if state in chats.CHAT_PRESENCE_STATES else None,
            state=state,
            lastSeen=last_seen,
        )
