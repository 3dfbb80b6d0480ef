"""The sandbox engine: a simulated WhatsApp for development, demos and CI.

It behaves like WhatsApp seen from the gateway, with timings from the node config:

- Linking by QR: the first QR is valid `SANDBOX_QR_FIRST_TTL_S` (60 s), each next one
  `SANDBOX_QR_TTL_S` (20 s), `SANDBOX_QR_COUNT` (6) codes in all (~160 s), then `failed`
  with reason `qr_timeout`. QR strings have WhatsApp's shape
  `2@<ref>,<noise pub b64>,<identity pub b64>,<adv secret b64>` (random 32-byte values).
- Linking by pairing code: one 8-char code `ABCD-EFGH`, valid for the same whole window.
- The phone "scans" through the `scan` action; `SANDBOX_CONNECT_DELAY_S` (0.5 s) later the
  session is connected as the given phone, else as `1555` + 7 digits derived from the session id.
- Magic recipient: a number whose digits end in `99` is not on WhatsApp
  (`recipient_not_on_whatsapp`; `check_number` returns None).
- Typing: "typing…" switched on and off before a paced text is recorded in `chat_states`, as
  the recipient's phone would see it (composing, then paused, then the message).
- Receipts: `delivered` after `SANDBOX_DELIVERY_DELAY_S` (1 s) and `read` after
  `SANDBOX_READ_DELAY_S` (2 s) from the send, at the end of a RECEIPT_TICK_S tick: one
  `receipts` event per session and tick (one transaction on the node, not one per receipt).
- `disconnect` action: `reconnecting` (`connection_lost`), then connected again after
  `SANDBOX_RECONNECT_DELAY_S` (2 s). `logout` action: `logged_out` (`logged_out_from_phone`).
- Resuming with credentials whose device the network no longer knows: `logged_out`
  (`device_removed`).
- Groups among sandbox sessions and contacts, with WhatsApp's rules and two more magic numbers
  (sandbox_groups: `…98` refuses being added, so it takes an invite); contacts and profiles
  with theirs (sandbox_contacts: `…97` a business, `…96` private, `…77` has a LID); presence
  and reads (sandbox_presence: contacts go online, type and record through the `presence`
  action).

Every type is accepted (text, image, video, audio, voice, document, sticker, location,
contact, reaction). Every message sent lands in the shared network's ledger (see sandbox_network)
with its payload as sent: media by reference (`media.id`, size, sha256), never the bytes.
"""

from __future__ import annotations

import base64
import logging
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from node_agent import protocol
from node_agent.clock import utc_in_iso, utc_now_iso
from node_agent.config import NodeConfig
from node_agent.engines.base import Engine, EventCallback, PermanentSendError, TransientSendError
from node_agent.engines.sandbox_contacts import SandboxContacts, sandbox_phone_of_lid
from node_agent.engines.sandbox_groups import SandboxGroups
from node_agent.engines.sandbox_network import NOT_ON_WHATSAPP_SUFFIX, SandboxNetwork
from node_agent.engines.sandbox_phone import SandboxPhone
from node_agent.engines.sandbox_presence import SandboxPresence
from node_agent.scheduler import Scheduler

log = logging.getLogger(__name__)

PAIR_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"  # WhatsApp's: no 0, O, I, U
SUPPORTED_TYPES = protocol.MESSAGE_TYPES
CHAT_STATES_KEPT = 1000  # the newest typing records a sandbox engine keeps (tests read them)
RECEIPT_TICK_S = 0.02


def _b64(n_bytes: int) -> str:
    return base64.b64encode(secrets.token_bytes(n_bytes)).decode()


def new_qr_string() -> str:
    """Return a fresh QR payload in WhatsApp's `2@ref,noise,identity,adv` shape."""
    return f"2@{_b64(24)},{_b64(32)},{_b64(32)},{_b64(32)}"


def new_pair_code() -> str:
    """Return an 8-char pairing code formatted `ABCD-EFGH`."""
    code = "".join(secrets.choice(PAIR_CODE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


@dataclass
class _Session:
    session_id: str
    method: str
    phone_number: str | None
    credentials: dict[str, Any] | None
    state: str = "starting"  # starting|qr|pairing|connecting|connected|reconnecting
    qr_string: str | None = None
    gen: int = 0


class SandboxEngine(SandboxContacts, SandboxGroups, SandboxPresence, SandboxPhone, Engine):
    """Simulated sessions of this node, linked through the shared SandboxNetwork."""

    name = "sandbox"

    def __init__(self, config: NodeConfig, on_event: EventCallback) -> None:
        super().__init__(on_event)
        self._config = config
        self._network = SandboxNetwork(config.sandbox_network_path)
        self._scheduler = Scheduler("sandbox-scheduler")
        # Events are emitted under this lock, so once stop() returns nothing more comes out.
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._gen = 0
        self._chat_states: deque[dict[str, str]] = deque(maxlen=CHAT_STATES_KEPT)
        # By tick number, the receipts due then: (session id, its run's gen, receipt).
        self._receipts: dict[int, list[tuple[str, int, dict[str, str]]]] = {}

    @property
    def network(self) -> SandboxNetwork:
        """Return the shared simulated network (tests read its ledger)."""
        return self._network

    def wait_idle(self, after_s: float = 0.0, timeout_s: float = 10.0) -> bool:
        """Wait until everything simulated that is due within `after_s` s has run (tests).

        True if so; see Scheduler.barrier.
        """
        return self._scheduler.barrier(after_s, timeout_s)

    def _later(self, delay_s: float, session: _Session, fn: Any, *args: Any) -> None:
        """Run `fn(session, *args)` later, only if that same session run is still alive."""
        gen = session.gen

        def run() -> None:
            with self._lock:
                current = self._sessions.get(session.session_id)
                if current is not None and current.gen == gen:
                    fn(current, *args)

        self._scheduler.call_later(delay_s, run)

    def start(
        self,
        session_id: str,
        method: str,
        phone_number: str | None,
        credentials: dict[str, Any] | None,
    ) -> None:
        """Start linking (QR or pairing code), or resume a linked device from `credentials`."""
        with self._lock:
            self._gen += 1
            session = _Session(session_id, method, phone_number, credentials, gen=self._gen)
            self._sessions[session_id] = session
            if credentials:
                self._later(0, session, self._resume)
            elif method == "pairing_code":
                self._later(0, session, self._pair)
            else:
                self._later(0, session, self._qr_tick, 1)

    def _qr_tick(self, session: _Session, index: int) -> None:
        if session.state not in ("starting", "qr"):
            return  # scanned (or otherwise moved on) since this rotation was scheduled
        config = self._config
        if index > config.sandbox_qr_count:
            self._fail(session, "qr_timeout")
            return
        ttl_s = config.sandbox_qr_first_ttl_s if index == 1 else config.sandbox_qr_ttl_s
        session.state = "qr"
        session.qr_string = new_qr_string()
        self.emit(
            session.session_id,
            "qr",
            qr_string=session.qr_string,
            expires_at=utc_in_iso(ttl_s),
            index=index,
        )
        self._later(ttl_s, session, self._qr_tick, index + 1)

    def _pair(self, session: _Session) -> None:
        config = self._config
        window_s = (
            config.sandbox_qr_first_ttl_s + (config.sandbox_qr_count - 1) * config.sandbox_qr_ttl_s
        )
        session.state = "pairing"
        self.emit(session.session_id, "pair_code", code=new_pair_code())
        self._later(window_s, session, self._pair_timeout)

    def _pair_timeout(self, session: _Session) -> None:
        if session.state == "pairing":
            self._fail(session, "qr_timeout")

    def _fail(self, session: _Session, reason: str) -> None:
        del self._sessions[session.session_id]
        self.emit(session.session_id, "failed", reason=reason)

    def _link(self, session: _Session, phone: str) -> None:
        jid = protocol.user_jid(phone)
        device_key = _b64(32)
        self._network.device_link(
            session_id=session.session_id, phone=phone, jid=jid, device_key=device_key
        )
        session.credentials = {"phoneNumber": phone, "jid": jid, "deviceKey": device_key}
        self._connected(session)

    def _connected(self, session: _Session) -> None:
        credentials = session.credentials or {}
        session.state = "connected"
        self.emit(
            session.session_id,
            "connected",
            phone_number=credentials["phoneNumber"],
            jid=credentials["jid"],
            credentials=dict(credentials),
        )

    def _resume(self, session: _Session) -> None:
        device = self._network.device_get(session.session_id)
        credentials = session.credentials or {}
        if device is None or device["device_key"] != credentials.get("deviceKey"):
            del self._sessions[session.session_id]
            self.emit(session.session_id, "logged_out", reason="device_removed")
            return
        self._connected(session)

    def _reconnect(self, session: _Session) -> None:
        if session.state == "reconnecting":
            self._connected(session)

    def stop(self, session_id: str) -> None:
        """Drop the session's simulated connection; the device stays linked."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def logout(self, session_id: str) -> None:
        """Unlink the session's device from the network and drop the session."""
        with self._lock:
            self._sessions.pop(session_id, None)
            self._network.device_unlink(session_id)

    def is_running(self, session_id: str) -> bool:
        """Return True while the session is held (linking, connected or reconnecting)."""
        with self._lock:
            return session_id in self._sessions

    def send(self, session_id: str, message_id: str, payload: dict[str, Any]) -> str:
        """Put the message on the network and schedule its receipts; return its wa id.

        Raises TransientSendError `session_not_connected`, PermanentSendError
        `unsupported_type` or `recipient_not_on_whatsapp`.
        """
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.state != "connected" or not session.credentials:
                raise TransientSendError("session_not_connected", "Session is not connected.")
            type_ = payload.get("type")
            if type_ not in SUPPORTED_TYPES:
                raise PermanentSendError("unsupported_type", f"Unsupported type {type_!r}.")
            to = str(payload.get("to") or payload.get("chatId", "").split("@")[0])
            chat = payload.get("chatId") or protocol.user_jid(to)
            if chat.endswith("@lid"):  # the same chat as the number's (sandbox_contacts)
                to = sandbox_phone_of_lid(chat) or NOT_ON_WHATSAPP_SUFFIX
                chat = protocol.user_jid(to)
            if chat.endswith("@g.us"):
                self.group_send_check(session, chat)
            elif self.check_number(session_id, to) is None:
                raise PermanentSendError(
                    "recipient_not_on_whatsapp", f"{to} is not on WhatsApp (sandbox)."
                )
            wa_message_id = "3EB0" + secrets.token_hex(8).upper()
            self._network.ledger_add(
                message_id=message_id,
                wa_message_id=wa_message_id,
                session_id=session_id,
                from_phone=session.credentials["phoneNumber"],
                to_jid=chat,
                type_=type_,
                payload=payload,
            )
            if chat.endswith("@g.us"):
                self.group_deliver(session, chat, wa_message_id, payload)
            else:
                self.contact_met(session_id, chat)
            for delay_s, status in (
                (self._config.sandbox_delivery_delay_s, "delivered"),
                (self._config.sandbox_read_delay_s, "read"),
            ):
                self._queue_receipt(delay_s, session, wa_message_id, status)
            return wa_message_id

    def _queue_receipt(self, delay_s: float, session: _Session, wa_id: str, status: str) -> None:
        """Emit a receipt `delay_s` from now, at the end of that tick (lock held)."""
        tick = math.ceil((time.monotonic() + delay_s) / RECEIPT_TICK_S)
        due = self._receipts.setdefault(tick, [])
        if not due:  # the tick's first receipt sets the tick's timer
            wait_s = max(0.0, tick * RECEIPT_TICK_S - time.monotonic())
            self._scheduler.call_later(wait_s, lambda: self._receipt(tick))
        due.append((session.session_id, session.gen, {"wa_message_id": wa_id, "status": status}))

    def typing(self, session_id: str, payload: dict[str, Any], composing: bool) -> None:
        """Record "typing…" switched on (`composing`) or off in the message's chat (see
        `chat_states`). Raises TransientSendError `session_not_connected`."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.state != "connected":
                raise TransientSendError("session_not_connected", "Session is not connected.")
            to = str(payload.get("to") or "")
            self._chat_states.append(
                {
                    "sessionId": session_id,
                    "chatId": payload.get("chatId") or protocol.user_jid(to),
                    "state": "composing" if composing else "paused",
                    "at": utc_now_iso(),
                }
            )

    def chat_states(self, session_id: str) -> list[dict[str, str]]:
        """Return the session's typing records, oldest first: `sessionId`, `chatId`, `state`
        (composing | paused) and `at` (a node timestamp, comparable with the ledger's)."""
        with self._lock:
            return [dict(e) for e in self._chat_states if e["sessionId"] == session_id]

    def _receipt(self, tick: int) -> None:
        """Emit the receipts of `tick`, in order, per session still in the same run."""
        with self._lock:
            by_session: dict[str, list[dict[str, str]]] = {}
            for session_id, gen, receipt in self._receipts.pop(tick, []):
                if getattr(self._sessions.get(session_id), "gen", None) == gen:
                    by_session.setdefault(session_id, []).append(receipt)
            for session_id, receipts in by_session.items():
                self.emit(session_id, "receipts", receipts=receipts)

    def check_number(self, session_id: str, phone: str) -> str | None:
        """Return the JID of `phone`, or None for numbers ending in `99` (not on WhatsApp)."""
        digits = protocol.digits(phone)
        if not digits or digits.endswith(NOT_ON_WHATSAPP_SUFFIX):
            return None
        return protocol.user_jid(digits)

    def shutdown(self) -> None:
        """Drop every session and stop the scheduler (the devices stay linked)."""
        with self._lock:
            self._sessions.clear()
        self._scheduler.stop()
        self._network.close()
        for store in (self._group_net, self._contact_book):
            if store is not None:
                store.close()
