"""What the simulated phone of a sandbox session does: scan a QR, send it a message, log out
from the phone, drop the connection (`SandboxEngine.action`; the module doc of
node_agent.engines.sandbox lists the actions and their parameters)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from typing import Any

from node_agent import message_actions, protocol
from node_agent.clock import utc_now_iso
from node_agent.engines.sandbox_contacts import sandbox_lid

log = logging.getLogger("node_agent.engines.sandbox")


def sandbox_phone(session_id: str) -> str:
    """Return the deterministic sandbox phone of a session: `1555` + 7 digits."""
    digest = int(hashlib.sha256(session_id.encode()).hexdigest(), 16)
    return f"1555{digest % 10**7:07d}"


# Actions the API accepted one after the other may reach the node's task threads in another
# order; each waits until REORDER_S after it was accepted (`acceptedAt`, Unix seconds), so they
# run in the order the API accepted them.
REORDER_S = 0.2
HOLD_MAX_S = 1.0  # however far ahead the backend's clock is


def _hold_s(params: dict[str, Any]) -> float:
    try:
        accepted = float(params.get("acceptedAt") or 0)
    except (TypeError, ValueError):
        return 0.0
    if not accepted:
        return 0.0
    return min(max(accepted + REORDER_S - time.time(), 0.0), HOLD_MAX_S)


RECEIVED_KEPT = 100_000  # incoming message ids remembered, for the contacts' message actions


class SandboxPhone:
    """The phone-side actions of SandboxEngine (a mixin: it uses the engine's sessions, lock,
    scheduler, network and config)."""

    _sessions: dict[str, Any]
    _lock: Any
    _config: Any
    _network: Any
    _received: dict[tuple[str, str], str] | None = None  # (session, WhatsApp id) → its chat

    def action(self, session_id: str, action: str, params: dict[str, Any]) -> None:
        """Simulate the phone: `scan`, `incoming`, `logout`, `disconnect` or a contact's
        `presence` (see module doc).

        Actions that don't fit the session's state are ignored with a log line.
        Raises ValueError for an unknown action.
        """
        handler = {
            "scan": self._scan,
            "incoming": self._incoming,
            "logout": self._phone_logout,
            "disconnect": self._disconnect,
            "presence": self._presence_action,  # type: ignore[attr-defined]
            "message_action": self._message_action,
            "call": self._call_action,  # type: ignore[attr-defined]
        }.get(action)
        if handler is None:
            raise ValueError(f"unknown sandbox action {action!r}")
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                log.info("sandbox %s ignored: session %s is not running", action, session_id)
                return
            # Run on the scheduler thread: events never reach the runtime inside an engine call.
            self._later(_hold_s(params), session, handler, params)

    def _scan(self, session: Any, params: dict[str, Any]) -> None:
        if session.state not in ("qr", "pairing"):
            log.info("scan ignored: session %s is %s", session.session_id, session.state)
            return
        qr_string = params.get("qrString")
        if qr_string and (session.state != "qr" or qr_string != session.qr_string):
            log.info("scan ignored: stale QR for session %s", session.session_id)
            return
        phone = params.get("phoneNumber")
        if session.state == "pairing":
            phone = session.phone_number or phone
        phone = protocol.digits(phone) or sandbox_phone(session.session_id)
        session.state = "connecting"
        self._later(self._config.sandbox_connect_delay_s, session, self._link, phone)

    def _incoming(self, session: Any, params: dict[str, Any]) -> None:
        if session.state != "connected":
            log.info("incoming ignored: session %s is %s", session.session_id, session.state)
            return
        sender = protocol.digits(params.get("from"))
        if not sender:
            log.info("incoming ignored: no sender for session %s", session.session_id)
            return
        incoming: dict[str, Any] = {
            "id": "3EB0" + secrets.token_hex(8).upper(),
            "from": sender,
            "chatId": protocol.user_jid(sender),
            "type": params.get("type") or "text",
            "timestamp": utc_now_iso(),
            "fromPhone": sender,
            "fromLid": sandbox_lid(sender),
        }
        if params.get("text") is not None:
            incoming["text"] = str(params["text"])
        if params.get("viewOnce"):
            incoming["viewOnce"] = True
        if params.get("pushName"):  # a new one is a rename (node_agent/contact_events.py)
            incoming["pushName"] = str(params["pushName"])
            self._book(session.session_id)[0].push_name_set(  # type: ignore[attr-defined]
                incoming["chatId"], incoming["pushName"]
            )
        # Media arrive as the descriptor of a file the backend already keeps (as a real node
        # uploads a received file before reporting it); location and contact as given.
        for key in ("media", "location", "contact"):
            if isinstance(params.get(key), dict):
                incoming[key] = params[key]
        self.contact_met(session.session_id, incoming["chatId"])  # type: ignore[attr-defined]
        if self._received is None:
            self._received = {}
        if len(self._received) >= RECEIVED_KEPT:
            self._received.clear()
        self._received[(session.session_id, incoming["id"])] = incoming["chatId"]
        self.emit(session.session_id, "message", incoming=incoming)

    def _whose(self, session: Any, chat: str, wa_id: str) -> str | None:
        """Return `theirs` (a contact wrote it in `chat`), `ours` (the session sent it there) or
        None (no such message in that chat)."""
        if (self._received or {}).get((session.session_id, wa_id)) == chat:
            return "theirs"
        sent = self._network.ledger_by_wa_id(wa_id)
        if sent and sent["session_id"] == session.session_id and sent["to_jid"] == chat:
            return "ours"
        return None

    def _message_action(self, session: Any, params: dict[str, Any]) -> None:
        """A contact reacts to, edits or revokes a message of the chat (`action` react | edit
        | revoke, `messageId`, `emoji` or `text`); see node_agent/message_actions.py."""
        sender = protocol.digits(params.get("from"))
        type_ = message_actions.ACTIONS.get(str(params.get("action")))
        if session.state != "connected" or not sender or type_ is None:
            log.info("message action ignored for session %s", session.session_id)
            return
        chat, wa_id = protocol.user_jid(sender), str(params.get("messageId") or "")
        whose = self._whose(session, chat, wa_id)
        # A contact reacts to any message of the chat, edits and revokes only their own, and
        # votes in the session's polls with their options.
        own = message_actions.REACTION, message_actions.VOTE
        poll = (self._network.ledger_by_wa_id(wa_id) or {}).get("payload", {}).get("poll")
        if (
            whose is None
            or (type_ not in own and whose != "theirs")
            or (type_ == message_actions.VOTE and (whose != "ours" or not poll))
        ):
            log.info("message action ignored: %s cannot act on %s", sender, wa_id)
            return
        data: dict[str, Any] = {
            "chatId": chat,
            "messageId": wa_id,
            "from": sender,
            "senderJid": chat,
            "fromPhone": sender,
            "fromLid": sandbox_lid(sender),
            "timestamp": utc_now_iso(),
        }
        if type_ == message_actions.REACTION:
            data["emoji"] = str(params.get("emoji") or "")
        elif type_ == message_actions.EDITED:
            data["text"] = str(params.get("text") or "")
        elif type_ == message_actions.VOTE:
            chosen = [str(o) for o in params.get("options") or []]
            data["selected"] = [o for o in poll["options"] if o in chosen]
        wa_id = "3EB0" + secrets.token_hex(8).upper()  # the message that carries the action
        self.emit(
            session.session_id, "event", **message_actions.action_event(type_, wa_id=wa_id, **data)
        )

    def _phone_logout(self, session: Any, params: dict[str, Any]) -> None:
        if not session.credentials:
            log.info("logout ignored: session %s is not linked", session.session_id)
            return
        self._network.device_unlink(session.session_id)
        del self._sessions[session.session_id]
        self.emit(session.session_id, "logged_out", reason="logged_out_from_phone")

    def _disconnect(self, session: Any, params: dict[str, Any]) -> None:
        if session.state != "connected":
            log.info("disconnect ignored: session %s is %s", session.session_id, session.state)
            return
        session.state = "reconnecting"
        self.emit(session.session_id, "reconnecting", reason="connection_lost")
        self._later(self._config.sandbox_reconnect_delay_s, session, self._reconnect)
