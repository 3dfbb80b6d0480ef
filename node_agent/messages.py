"""Outbound and inbound messages of a node: exactly-once sends, receipts, incoming messages,
and the history the backend asks for (`history_item`).

Exactly-once: a send is first recorded (committed INSERT, unique gateway `messageId`), claimed
`handed` just before the engine gets it, then marked `sent` with the WhatsApp id. A repeat finds
the row and never sends again; a row left `handed` (the node died between hand-off and outcome)
has an unknown fate and is reported failed `delivery_unknown`.

With a shared session store (SESSION_STORE_URL) the same holds across nodes: just before the local
`handed` step the message is claimed in the shared store, and its outcome is recorded there. A
task that reaches a second node (the session moved) finds the claim: `sent` is reported sent
again, never resent; `failed` is reported failed; `handed` by another node has an unknown fate,
so it is reported failed `delivery_unknown`. No claim, no send: an unreachable store is a
transient error (`session_store_unavailable`) and the task retries. What follows the claim is
best effort (send_claims.py).

A change of a message's state or status commits with its report (Reporter.changing), so a crash
can't leave a change unreported; the `handed` claim is durable (database.py: power cuts).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from node_agent import protocol, send_claims
from node_agent.clock import utc_now_iso
from node_agent.database import NodeDatabase
from node_agent.engines.base import (
    Engine,
    PermanentSendError,
    TransientSendError,
    holding_engine,
)
from node_agent.reports import Reporter
from node_agent.session_store import SharedSessionStore

log = logging.getLogger(__name__)

RECEIPT_RANK = {"sent": 1, "delivered": 2, "read": 3}
PENDING_RECEIPTS_MAX = 1000
HISTORY_PAGE_MAX = 200
HISTORY_QUERY_MAX = 100  # characters of a search
# Payload keys that are not a message's content (they say where it goes and what it is).
NOT_CONTENT = ("to", "chatId", "type", "id")


def history_item(row: dict[str, Any]) -> dict[str, Any]:
    """Return the wire form of one message row (protocol.HISTORY_ITEM_KEYS, camelCase)."""
    payload = row["payload"] or {}
    error = None
    if row["error_code"]:
        error = {"code": row["error_code"], "message": row["error_message"] or ""}
    return {
        "id": row["message_id"] or row["wa_message_id"],
        "waMessageId": row["wa_message_id"],
        "direction": row["direction"],
        "chatId": row["chat_jid"],
        "from": row["from_phone"],
        "type": row["type"],
        "status": row["status"] or row["state"],
        "error": error,
        "content": {k: v for k, v in payload.items() if k not in NOT_CONTENT},
        "createdAt": row["created_at"],
        "cursor": row["id"],
    }


class Messages:
    """Send and track messages through `engines`, reporting via `reporter`.

    `shared` is the cluster's shared session store (None on a node without one); claims in it
    are taken in the name of `reporter.worker_id`.
    """

    def __init__(
        self,
        db: NodeDatabase,
        reporter: Reporter,
        engines: dict[str, Engine],
        shared: SharedSessionStore | None = None,
    ) -> None:
        self.db = db
        self.reporter = reporter
        self.engines = engines
        self.shared = shared
        # Receipts that arrive before their message is marked sent, keyed by wa id.
        self._pending_receipts: dict[str, str] = {}
        # Messages this process is handing to an engine right now: `handed` but not lost.
        self._in_flight: set[str] = set()

    def history(self, ask: protocol.MessagesList) -> list[dict[str, Any]]:
        """Return the page `ask` names (history_item; limit in 1..200, direction in/out/both)."""
        rows = self.db.message_page(
            ask.session_id,
            max(0, int(ask.since)),
            max(1, min(int(ask.limit), HISTORY_PAGE_MAX)),
            before=max(0, int(ask.before)),
            newest_first=bool(ask.newest_first),
            direction=ask.direction if ask.direction in ("in", "out") else "",
            query=str(ask.query)[:HISTORY_QUERY_MAX],
            chat=str(ask.chat)[:HISTORY_QUERY_MAX],
        )
        return [history_item(row) for row in rows]

    def settle_handed(self) -> None:
        """Report every message left `handed` as failed `delivery_unknown` (run at start)."""
        for message in self.db.message_list_in_state("handed"):
            send_claims.record_outcome(
                self.shared, message["message_id"], "failed", error_code="delivery_unknown"
            )
            self._fail(message, ("handed",), "delivery_unknown")

    def incoming(self, session_id: str, incoming: dict[str, Any]) -> None:
        """Store an engine's incoming message and report it, once per WhatsApp id."""
        content = {key: incoming[key] for key in protocol.INCOMING_CONTENT_KEYS if key in incoming}
        with self.reporter.changing(durable=True):
            created = self.db.message_record_in(
                session_id=session_id,
                wa_message_id=incoming["id"],
                chat_jid=incoming["chatId"],
                from_phone=incoming["from"],
                type_=incoming.get("type", "text"),
                payload=content,
            )
            if created:
                self.reporter.message_received(session_id, incoming)

    def receipt(self, wa_message_id: str, status: str) -> None:
        """Apply a `delivered`/`read` receipt and report it; statuses never go backwards.

        A receipt for a message another node sent (the session moved since) is reported for
        the message the shared store's claim names.
        """
        if (
            self.shared is not None
            and self.db.message_get_by_wa(wa_message_id) is None
            and self._receipt_of_another_node(wa_message_id, status)
        ):
            return
        with self.reporter.changing():
            message = self.db.message_get_by_wa(wa_message_id)
            if message is None or message["state"] != "sent":
                # Not marked sent yet: keep it until send() does, so `sent` goes first.
                held = self._pending_receipts.get(wa_message_id, "sent")
                if RECEIPT_RANK.get(status, 0) > RECEIPT_RANK[held]:
                    self._pending_receipts[wa_message_id] = status
                while len(self._pending_receipts) > PENDING_RECEIPTS_MAX:
                    self._pending_receipts.pop(next(iter(self._pending_receipts)))
                return
            if RECEIPT_RANK.get(status, 0) <= RECEIPT_RANK.get(message["status"] or "", 0):
                return  # never backwards: `read` is not followed by `delivered`
            self.db.message_set_status(message["message_id"], status)
            self.reporter.message_status(
                message["session_id"], message["message_id"], status, wa_message_id=wa_message_id
            )

    def _receipt_of_another_node(self, wa_message_id: str, status: str) -> bool:
        """Report a receipt for the message another node sent as `wa_message_id`; True if so.

        False when no node is known to have sent it (it may not be marked sent yet).
        """
        claim = send_claims.sent_claim(self.shared, wa_message_id)
        if claim is None:
            return False
        self.reporter.message_status(
            claim["session_id"], claim["message_id"], status, wa_message_id=wa_message_id
        )
        return True

    def record(
        self, message_id: str, session_id: str, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Record an outbound message (`recorded`, committed) unless its id is known; return
        (row, created). Its `chat_jid` is the chat its order is kept in."""
        to = str(payload.get("to") or str(payload.get("chatId", "")).split("@")[0])
        chat_jid = str(payload.get("chatId") or protocol.user_jid(to))
        return self.db.message_record_out(
            message_id,
            session_id=session_id,
            chat_jid=chat_jid,
            type_=str(payload.get("type")),
            payload=payload,
        )

    def send(
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
        `session_not_connected` instead. With a shared store the message is also claimed there
        (module doc); a store out of reach is TransientSendError `session_store_unavailable`.
        """
        message, created = self.db.message_get(message_id), False
        if message is None:  # a lane's message is recorded already: a read, not a write
            message, created = self.record(message_id, session_id, payload)
        if not created and message["state"] in ("sent", "failed"):
            log.info("message %s already %s: repeating its report", message_id, message["state"])
            self._repeat_message_report(message)
            return message["state"]
        if not created and message["state"] == "handed":
            with self.reporter.lock:
                if message_id in self._in_flight:
                    return "handed"  # a duplicate delivery of a task still running here
            self._fail(message, ("handed",), "delivery_unknown")
            return "failed"
        if payload.get("type") not in protocol.MESSAGE_TYPES:
            self._fail(message, ("recorded",), "unsupported_type")
            return "failed"
        engine = holding_engine(self.engines, self.db.session_get(session_id, full=False))
        if engine is None:
            return self._not_sent(
                message,
                TransientSendError("session_not_connected", "Session is not running."),
                final_attempt,
            )
        if self.shared is not None:
            outcome = self._claim(message, final_attempt)
            if outcome is not None:
                return outcome
        with self.reporter.lock:
            # Durable: after a power cut the message is found `handed`, never sent again.
            if not self.db.message_transition(
                message_id, ("recorded",), "handed", durable=True, handed_at=utc_now_iso()
            ):
                # Another thread holds it right now (and the shared claim, if any, with it).
                return "handed"
            self._in_flight.add(message_id)
        # Each outcome moves the row out of `handed` before the id leaves `_in_flight`, so a
        # duplicate task never mistakes this running send for a lost one. The shared claim is
        # settled first, while this process still holds the message.
        try:
            wa_message_id = engine.send(session_id, message_id, self._enrich(session_id, payload))
        except TransientSendError as exc:
            send_claims.release(self.shared, message_id)
            self.db.message_transition(message_id, ("handed",), "recorded")
            self._in_flight.discard(message_id)
            return self._not_sent(message, exc, final_attempt)
        except PermanentSendError as exc:
            send_claims.record_outcome(self.shared, message_id, "failed", error_code=exc.code)
            self._fail(message, ("handed",), exc.code, exc.message)
            self._in_flight.discard(message_id)
            return "failed"
        except Exception:
            log.exception("engine send of %s failed: fate unknown", message_id)
            send_claims.record_outcome(
                self.shared, message_id, "failed", error_code="delivery_unknown"
            )
            self._fail(message, ("handed",), "delivery_unknown")
            self._in_flight.discard(message_id)
            return "failed"
        send_claims.record_outcome(self.shared, message_id, "sent", wa_message_id=wa_message_id)
        self._sent(message, ("handed",), wa_message_id)
        log.debug("message %s sent as %s", message_id, wa_message_id)  # INFO: a line per send
        return "sent"

    def _sent(self, message: dict[str, Any], from_states: tuple[str, ...], wa_id: str) -> None:
        """Mark a message sent as `wa_id`, report it, then apply a receipt that came early."""
        message_id = message["message_id"]
        with self.reporter.changing():
            self._in_flight.discard(message_id)
            moved = self.db.message_transition(
                message_id,
                from_states,
                "sent",
                wa_message_id=wa_id,
                status="sent",
                sent_at=utc_now_iso(),
            )
            if moved:
                self.reporter.message_status(
                    message["session_id"], message_id, "sent", wa_message_id=wa_id
                )
            held = self._pending_receipts.pop(wa_id, None)
        if held:
            self.receipt(wa_id, held)

    def _claim(self, message: dict[str, Any], final_attempt: bool) -> str | None:
        """Claim a `recorded` message in the shared store; None means go on and send it.

        Else return the state the message ends in here, after settling it from the claim
        another try made before.
        """
        assert self.shared is not None
        message_id = message["message_id"]
        try:
            claim = self.shared.send_claim(message_id, message["session_id"], self.worker_id)
        except psycopg.Error as exc:
            log.warning("message %s not sent: session store unreachable: %s", message_id, exc)
            unavailable = TransientSendError(
                "session_store_unavailable", "The shared session store cannot be reached."
            )
            return self._not_sent(message, unavailable, final_attempt)
        if claim is None:
            return None
        if claim["state"] == "sent":
            log.info("message %s was sent by %s: not sending again", message_id, claim["worker_id"])
            self._sent(message, ("recorded",), claim["wa_message_id"])
            return "sent"
        if claim["state"] == "failed":
            self._fail(message, ("recorded",), claim["error_code"] or "delivery_unknown")
            return "failed"
        if claim["worker_id"] == self.worker_id:
            with self.reporter.lock:
                if message_id in self._in_flight:
                    return "handed"  # a duplicate delivery of a task still running here
            # This node's claim, and the local row is still `recorded`: a row is committed
            # `handed` before the engine gets its message, so this claim's send never began
            # (the node stopped in between, or a release did not reach the store).
            return None
        log.info("message %s is handed on %s: its fate is unknown", message_id, claim["worker_id"])
        self._fail(message, ("recorded",), "delivery_unknown")
        return "failed"

    @property
    def worker_id(self) -> str:
        """Return the id of this node, the owner of its claims."""
        return self.reporter.worker_id

    def _enrich(self, session_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Add what the engine needs about quoted or reacted-to messages from the history.

        `replyToText` (the quoted text) and `reaction.fromMe` (whether we sent the target).
        """
        enriched = dict(payload)
        target_id = payload.get("replyTo")
        if target_id:
            quoted = self.db.message_get_by_wa_any(session_id, str(target_id))
            if quoted and quoted["payload"].get("text") and "replyToText" not in payload:
                enriched["replyToText"] = quoted["payload"]["text"]
        reaction = payload.get("reaction")
        if isinstance(reaction, dict) and reaction.get("messageId"):
            target = self.db.message_get_by_wa_any(session_id, str(reaction["messageId"]))
            enriched["reaction"] = {
                **reaction,
                "fromMe": bool(target and target["direction"] == "out"),
            }
        return enriched

    def _not_sent(
        self, message: dict[str, Any], exc: TransientSendError, final_attempt: bool
    ) -> str:
        if not final_attempt:
            raise exc
        self._fail(message, ("recorded",), exc.code, exc.message)
        return "failed"

    def _fail(
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
        with self.reporter.changing():
            moved = self.db.message_transition(
                message["message_id"],
                from_states,
                "failed",
                status="failed",
                error_code=code,
                error_message=text,
            )
            if moved:
                self.reporter.message_status(
                    message["session_id"],
                    message["message_id"],
                    "failed",
                    wa_message_id=message.get("wa_message_id"),
                    error_code=code,
                    error_message=text,
                )
        if moved:
            log.info("message %s failed: %s", message["message_id"], code)

    def _repeat_message_report(self, message: dict[str, Any]) -> None:
        self.reporter.message_status(
            message["session_id"],
            message["message_id"],
            message["status"] or message["state"],
            wa_message_id=message["wa_message_id"],
            error_code=message["error_code"],
            error_message=message["error_message"],
        )
