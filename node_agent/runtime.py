"""The node runtime: sessions and messages of this node, engines' events, reports.

Celery tasks call the public methods; engines call `on_event`. Every method is safe to repeat
(tasks are acknowledged late, so any of them may run twice).

Lock order (never taken the other way round): a session's operation lock, then an engine's lock,
then the reporter's lock. So the runtime never calls an engine while holding the reporter's lock.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from typing import Any

from node_agent.config import NodeConfig
from node_agent.engines.base import Engine, PermanentSendError, TransientSendError
from node_agent.engines.sandbox import SandboxEngine
from node_agent.outbox import OutboxSender
from node_agent.reports import Reporter
from node_agent.store import Store, utc_now_iso

log = logging.getLogger(__name__)

METHODS = ("qr", "pairing_code")
SUPPORTED_TYPES = ("text",)
RECEIPT_RANK = {"sent": 1, "delivered": 2, "read": 3}
PENDING_RECEIPTS_MAX = 1000
SHUTDOWN_FLUSH_S = 3.0


class NodeRuntime:
    """Everything one node runs besides Celery, the health server and the heartbeat."""

    def __init__(self, config: NodeConfig, engines: dict[str, Engine] | None = None) -> None:
        self.config = config
        self.store = Store(config.node_db_path)
        self.outbox = OutboxSender(self.store, config.backend_url, config.backend_auth_token)
        self.reporter = Reporter(self.store, self.outbox.wake)
        self.engines: dict[str, Engine] = (
            engines if engines is not None else {"sandbox": SandboxEngine(config, self.on_event)}
        )
        self.started_at = time.monotonic()
        self._locks_guard = threading.Lock()
        self._session_locks: dict[str, threading.Lock] = {}
        # Receipts that arrive before the message is marked sent, keyed by wa id.
        self._pending_receipts: dict[str, str] = {}

    # Lifecycle

    def start(self) -> None:
        """Start the outbox sender and resume sessions whose desired state is running."""
        self.outbox.start()
        self.restore()

    def restore(self) -> None:
        """Restart every `running` session with its stored credentials; settle lost hand-offs.

        A message still `handed` was given to the engine before a crash, so its fate is unknown:
        it is reported failed (`delivery_unknown`), never sent again.
        """
        for row in self.store.session_list():
            for message in self.store.message_list(row["session_id"], direction="out"):
                if message["state"] == "handed":
                    self._message_fail(message, ("handed",), "delivery_unknown")
        for row in self.store.session_list(desired="running"):
            log.info("restoring session %s (%s)", row["session_id"], row["engine"])
            with self._session_lock(row["session_id"]):
                self._start_engine(row)

    def shutdown(self) -> None:
        """Stop every engine, report running sessions DISCONNECTED, flush the outbox briefly.

        Desired states stay as they are, so the next start resumes the same sessions.
        """
        for engine in self.engines.values():
            engine.shutdown()
        for row in self.store.session_list(desired="running"):
            self.reporter.session_status(row["session_id"], "DISCONNECTED", reason="node_shutdown")
        self.outbox.stop(flush_timeout_s=SHUTDOWN_FLUSH_S)
        self.store.close()

    def _session_lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._session_locks.setdefault(session_id, threading.Lock())

    # Sessions

    def session_start(
        self,
        session_id: str,
        user_id: str,
        engine: str,
        method: str = "qr",
        phone_number: str | None = None,
    ) -> None:
        """Start a session, or re-report its status if it already runs here.

        Reports INITIALIZING then the engine's progress; FAILED with reason
        `engine_unavailable`, `invalid_method`, `phone_number_required` or `node_full`.
        """
        with self._session_lock(session_id):
            row = self.store.session_get(session_id)
            current = self.engines.get(row["engine"]) if row else None
            if row and current and current.is_running(session_id) and row["last_report"]:
                log.info("session %s already running: repeating its status", session_id)
                self.reporter.repeat_session_status(session_id, row["last_report"])
                return
            digits = "".join(c for c in phone_number or "" if c.isdigit()) or None
            row = self.store.session_upsert(
                session_id, user_id=str(user_id), engine=engine, method=method, phone_number=digits
            )
            reason = None
            if engine not in self.engines:
                reason = "engine_unavailable"
            elif method not in METHODS:
                reason = "invalid_method"
            elif method == "pairing_code" and not row["phone_number"]:
                reason = "phone_number_required"
            elif self.running_count() >= self.config.max_sessions:
                reason = "node_full"
            if reason:
                self.store.session_update(session_id, desired="stopped")
                self.reporter.session_status(session_id, "FAILED", reason=reason)
                return
            self._start_engine(row)

    def _start_engine(self, row: dict[str, Any]) -> None:
        session_id = row["session_id"]
        engine = self.engines.get(row["engine"])
        if engine is None:
            self.store.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "FAILED", reason="engine_unavailable")
            return
        self.reporter.session_status(session_id, "INITIALIZING")
        engine.start(session_id, row["method"], row["phone_number"], row["credentials"])

    def session_stop(self, session_id: str) -> None:
        """Close the session's connection, keep its credentials; report DISCONNECTED."""
        with self._session_lock(session_id):
            for engine in self.engines.values():
                engine.stop(session_id)
            self.store.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "DISCONNECTED", reason="stopped")

    def session_logout(self, session_id: str) -> None:
        """Unlink the device and delete its credentials; report LOGGED_OUT (`logged_out`)."""
        with self._session_lock(session_id):
            self._logout(session_id)
            self.reporter.session_status(session_id, "LOGGED_OUT", reason="logged_out")

    def _logout(self, session_id: str) -> None:
        row = self.store.session_get(session_id)
        credentials = row["credentials"] if row else None
        for engine in self.engines.values():
            engine.logout(session_id, credentials)
        self.store.session_update(session_id, desired="stopped", credentials=None, jid=None)

    def session_delete(self, session_id: str) -> None:
        """Log out if linked, stop, and forget the session and its local data. No report."""
        with self._session_lock(session_id):
            self._logout(session_id)
            self.store.session_delete(session_id)
            pattern = os.path.join(self.config.session_storage_path, glob.escape(session_id) + ".*")
            for path in glob.glob(pattern):
                os.remove(path)
        with self._locks_guard:
            self._session_locks.pop(session_id, None)

    def sandbox_action(self, session_id: str, action: str, params: dict[str, Any]) -> None:
        """Pass a simulated phone action to the session's engine (ignored if not sandbox)."""
        row = self.store.session_get(session_id)
        if row is None or row["engine"] != "sandbox" or "sandbox" not in self.engines:
            log.info("sandbox %s ignored: %s is not a sandbox session here", action, session_id)
            return
        try:
            self.engines["sandbox"].action(session_id, action, params or {})
        except ValueError as exc:
            log.warning("sandbox action rejected for %s: %s", session_id, exc)

    # Engine events

    def on_event(self, session_id: str, kind: str, data: dict[str, Any]) -> None:
        """Turn an engine event into local state and reports (see engines.base for kinds)."""
        row = self.store.session_get(session_id)
        if row is None:
            log.info("event %s dropped: session %s is unknown", kind, session_id)
            return
        log.info("session %s event %s", session_id, kind)
        report = self.reporter.session_status
        if kind in ("qr", "pair_code", "connected", "reconnecting") and row["desired"] != "running":
            return
        if kind == "qr":
            report(
                session_id,
                "QR_REQUIRED",
                qrString=data["qr_string"],
                qrExpiresAt=data["expires_at"],
                qrIndex=data["index"],
            )
        elif kind == "pair_code":
            report(session_id, "PAIRING", pairingCode=data["code"], phoneNumber=row["phone_number"])
        elif kind == "connected":
            self.store.session_update(
                session_id,
                phone_number=data["phone_number"],
                jid=data["jid"],
                credentials=data["credentials"],
            )
            report(session_id, "CONNECTED", phoneNumber=data["phone_number"], jid=data["jid"])
        elif kind == "reconnecting":
            report(session_id, "RECONNECTING", reason=data["reason"])
        elif kind == "disconnected":
            report(session_id, "DISCONNECTED", reason=data["reason"])
        elif kind == "logged_out":
            self.store.session_update(session_id, desired="stopped", credentials=None, jid=None)
            report(session_id, "LOGGED_OUT", reason=data["reason"])
        elif kind == "failed":
            self.store.session_update(session_id, desired="stopped")
            report(session_id, "FAILED", reason=data["reason"])
        elif kind == "message":
            self._incoming(session_id, data["incoming"])
        elif kind == "receipt":
            self._receipt(data["wa_message_id"], data["status"])
        else:
            log.warning("unknown engine event %s for %s", kind, session_id)

    def _incoming(self, session_id: str, incoming: dict[str, Any]) -> None:
        content = {key: incoming[key] for key in ("text",) if key in incoming}
        created = self.store.message_record_in(
            session_id=session_id,
            wa_message_id=incoming["id"],
            chat_jid=incoming["chatId"],
            from_phone=incoming["from"],
            type_=incoming.get("type", "text"),
            payload=content,
        )
        if created:
            self.reporter.message_received(session_id, incoming)

    def _receipt(self, wa_message_id: str, status: str) -> None:
        with self.reporter.lock:
            message = self.store.message_get_by_wa(wa_message_id)
            if message is None or message["state"] != "sent":
                # Not marked sent yet: keep it until message_send does, so `sent` goes first.
                held = self._pending_receipts.get(wa_message_id, "sent")
                if RECEIPT_RANK.get(status, 0) > RECEIPT_RANK[held]:
                    self._pending_receipts[wa_message_id] = status
                while len(self._pending_receipts) > PENDING_RECEIPTS_MAX:
                    self._pending_receipts.pop(next(iter(self._pending_receipts)))
                return
            if RECEIPT_RANK.get(status, 0) <= RECEIPT_RANK.get(message["status"] or "", 0):
                return  # never backwards: `read` is not followed by `delivered`
            self.store.message_set_status(message["message_id"], status)
            self.reporter.message_status(
                message["session_id"], message["message_id"], status, wa_message_id=wa_message_id
            )

    # Messages

    def message_send(
        self,
        message_id: str,
        session_id: str,
        payload: dict[str, Any],
        *,
        final_attempt: bool = True,
    ) -> str:
        """Send one message exactly once; return its local state (sent|failed|handed).

        Recorded (committed) before anything else; claimed `handed` just before the engine gets
        it. A repeat finds the row: sent/failed → its last report again; handed (fate unknown)
        → failed `delivery_unknown`, never resent. While the session isn't connected this raises
        TransientSendError (the task retries) unless `final_attempt`, which reports failed
        `session_not_connected` instead.
        """
        to = str(payload.get("to") or str(payload.get("chatId", "")).split("@")[0])
        chat_jid = str(payload.get("chatId") or f"{to}@s.whatsapp.net")
        message, created = self.store.message_record_out(
            message_id,
            session_id=session_id,
            chat_jid=chat_jid,
            type_=str(payload.get("type")),
            payload=payload,
        )
        if not created and message["state"] in ("sent", "failed"):
            log.info("message %s already %s: repeating its report", message_id, message["state"])
            self._repeat_message_report(message)
            return message["state"]
        if not created and message["state"] == "handed":
            self._message_fail(message, ("handed",), "delivery_unknown")
            return "failed"
        if payload.get("type") not in SUPPORTED_TYPES:
            self._message_fail(message, ("recorded",), "unsupported_type")
            return "failed"
        row = self.store.session_get(session_id)
        engine = self.engines.get(row["engine"]) if row else None
        if engine is None or not engine.is_running(session_id):
            return self._not_sent(
                message, TransientSendError("session_not_connected", "Session is not running."),
                final_attempt,
            )
        if not self.store.message_transition(message_id, ("recorded",), "handed",
                                             handed_at=utc_now_iso()):
            return "handed"  # another thread holds it right now
        try:
            wa_message_id = engine.send(session_id, message_id, payload)
        except TransientSendError as exc:
            self.store.message_transition(message_id, ("handed",), "recorded")
            return self._not_sent(message, exc, final_attempt)
        except PermanentSendError as exc:
            self._message_fail(message, ("handed",), exc.code, exc.message)
            return "failed"
        except Exception:
            log.exception("engine send of %s failed: fate unknown", message_id)
            self._message_fail(message, ("handed",), "delivery_unknown")
            return "failed"
        with self.reporter.lock:
            self.store.message_transition(
                message_id,
                ("handed",),
                "sent",
                wa_message_id=wa_message_id,
                status="sent",
                sent_at=utc_now_iso(),
            )
            self.reporter.message_status(session_id, message_id, "sent", wa_message_id=wa_message_id)
            held = self._pending_receipts.pop(wa_message_id, None)
        log.info("message %s sent as %s", message_id, wa_message_id)
        if held:
            self._receipt(wa_message_id, held)
        return "sent"

    def _not_sent(
        self, message: dict[str, Any], exc: TransientSendError, final_attempt: bool
    ) -> str:
        if not final_attempt:
            raise exc
        self._message_fail(message, ("recorded",), exc.code, exc.message)
        return "failed"

    def _message_fail(
        self,
        message: dict[str, Any],
        from_states: tuple[str, ...],
        code: str,
        text: str | None = None,
    ) -> None:
        text = text or {
            "delivery_unknown": "The node stopped while sending; the message may or may not "
            "have been delivered, so it was not resent.",
            "unsupported_type": f"Message type {message['type']!r} is not supported.",
        }.get(code, code)
        moved = self.store.message_transition(
            message["message_id"],
            from_states,
            "failed",
            status="failed",
            error_code=code,
            error_message=text,
        )
        if moved:
            log.info("message %s failed: %s", message["message_id"], code)
            self.reporter.message_status(
                message["session_id"],
                message["message_id"],
                "failed",
                wa_message_id=message.get("wa_message_id"),
                error_code=code,
                error_message=text,
            )

    def _repeat_message_report(self, message: dict[str, Any]) -> None:
        self.reporter.message_status(
            message["session_id"],
            message["message_id"],
            message["status"] or message["state"],
            wa_message_id=message["wa_message_id"],
            error_code=message["error_code"],
            error_message=message["error_message"],
        )

    # Health

    def running_count(self) -> int:
        """Return how many sessions the engines hold right now."""
        rows = self.store.session_list(desired="running")
        return sum(
            1
            for row in rows
            if row["engine"] in self.engines
            and self.engines[row["engine"]].is_running(row["session_id"])
        )

    def status(self) -> dict[str, Any]:
        """Return counters for health and heartbeat: sessions, connected, outboxPending."""
        rows = self.store.session_list(desired="running")
        return {
            "sessions": len(rows),
            "connected": sum(1 for row in rows if row["status"] == "CONNECTED"),
            "outboxPending": self.store.outbox_count(),
        }
