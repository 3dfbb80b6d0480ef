"""Turn engines' events into the node's local state and its reports to the backend.

Engines call back with `(session_id, kind, data)` from any thread (kinds and `data` keys in
engines/base.py). Each event updates the session's row in the node's database where it must
(the phone number and credentials on `connected`, `desired` on the final ones), keeps or
deletes the credentials in the shared session store, and queues the matching report.

Dropped: events of sessions the node does not know, or that moved to another node (their
status is that node's to report), and linking progress of a session no longer wanted here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from node_agent import contact_events, message_actions
from node_agent.chats import PRESENCE_UPDATED
from node_agent.database import NodeDatabase
from node_agent.messages import Messages
from node_agent.reports import Reporter
from node_agent.sharing import SessionSharing

log = logging.getLogger(__name__)

# Progress that means nothing once the session's desired state is no longer `running`.
PROGRESS = frozenset({"qr", "pair_code", "connected", "reconnecting"})
PER_MESSAGE = frozenset({"receipt", "receipts", "message", "presence"})


class EngineEvents:
    """Apply engine events to `db`, `sharing` and `messages`, reporting through `reporter`."""

    def __init__(
        self,
        db: NodeDatabase,
        reporter: Reporter,
        messages: Messages,
        sharing: SessionSharing,
    ) -> None:
        self._db = db
        self._reporter = reporter
        self._messages = messages
        self._sharing = sharing
        # Called after a `group` event is reported (the node's group store forgets its copy).
        self.on_group: Callable[[str, dict[str, Any]], None] | None = None
        # Applies the session's call policy to an incoming call (chat_calls.ChatCalls).
        self.on_call: Callable[[str, dict[str, Any]], dict[str, Any] | None] | None = None
        # The push names seen, to tell renames from incoming messages (contact_events.py).
        self.names: contact_events.ContactNames | None = None

    def handle(self, session_id: str, kind: str, data: dict[str, Any]) -> None:
        """Apply one engine event; unknown kinds are logged and ignored."""
        row = self._db.session_get(session_id, full=False)
        if row is None:
            log.info("event %s dropped: session %s is unknown", kind, session_id)
            return
        if row["desired"] == "moved":
            # Its engine was stopped; whatever still comes is the other node's to report.
            log.info("event %s dropped: session %s moved to another node", kind, session_id)
            return
        # Receipts and messages are many (two receipts a send): not worth a line each at INFO.
        log.log(
            logging.DEBUG if kind in PER_MESSAGE else logging.INFO,
            "session %s event %s",
            session_id,
            kind,
        )
        if kind in PROGRESS and row["desired"] != "running":
            return
        report = self._reporter.session_status
        if kind == "qr":
            report(
                session_id,
                "QR_REQUIRED",
                qr_string=data["qr_string"],
                qr_expires_at=data["expires_at"],
                qr_index=data["index"],
            )
        elif kind == "pair_code":
            report(
                session_id, "PAIRING", pairing_code=data["code"], phone_number=row["phone_number"]
            )
        elif kind == "connected":
            self._db.session_update(
                session_id,
                phone_number=data["phone_number"],
                jid=data["jid"],
                credentials=data["credentials"],
            )
            # Before the report: once CONNECTED, the backend may move the session elsewhere.
            self._sharing.keep(session_id, row["engine"], data["credentials"])
            report(session_id, "CONNECTED", phone_number=data["phone_number"], jid=data["jid"])
        elif kind == "reconnecting":
            report(session_id, "RECONNECTING", reason=data["reason"])
        elif kind == "disconnected":
            report(session_id, "DISCONNECTED", reason=data["reason"])
        elif kind == "logged_out":
            self._db.session_update(session_id, desired="stopped", credentials=None, jid=None)
            self._sharing.forget(session_id)
            report(session_id, "LOGGED_OUT", reason=data["reason"])
        elif kind == "failed":
            if not data.get("retrying"):  # else the engine keeps trying (e.g. offline)
                self._db.session_update(session_id, desired="stopped")
            report(session_id, "FAILED", reason=data["reason"])
        elif kind == "message":
            self._messages.incoming(session_id, data["incoming"])
            if self.names is not None:
                renamed = contact_events.renamed(self.names, session_id, data["incoming"])
                if renamed is not None:
                    self._contact(session_id, renamed)
        elif kind == "contact":
            self._contact(session_id, data)
        elif kind == "event":  # any other event for the webhooks (protocol.SESSION_EVENT_TYPES)
            event = data["data"]
            if data["type"] == message_actions.VOTE:  # its options named from the poll sent
                poll = self._db.message_get_by_wa_any(session_id, event.get("messageId", ""))
                event = message_actions.vote_named(
                    (poll or {}).get("payload", {}).get("poll"), event
                )
            self._reporter.session_event(session_id, data["type"], data["event_id"], event)
        elif kind == "call":
            self._call(session_id, data)
        elif kind == "presence":
            keys = ("contact", "chat", "state", "lastSeen")
            self._reporter.session_event(
                session_id, PRESENCE_UPDATED, data["event_id"], {k: data.get(k) for k in keys}
            )
        elif kind == "receipt":
            self._messages.receipt(data["wa_message_id"], data["status"])
        elif kind == "receipts":
            self._receipts(data["receipts"])
        elif kind == "group":
            self._reporter.group_event(session_id, data)
            if self.on_group is not None:
                self.on_group(session_id, data)
        else:
            log.warning("unknown engine event %s for %s", kind, session_id)

    def _call(self, session_id: str, call: dict[str, Any]) -> None:
        """Report an incoming call, then what the session's call policy did with it."""
        data = {k: call.get(k) for k in ("from", "callId", "at", "video")}
        self._reporter.session_event(session_id, "call.received", call["event_id"], data)
        rejected = self.on_call(session_id, call) if self.on_call is not None else None
        if rejected is not None:
            self._reporter.session_event(
                session_id, "call.rejected", call["event_id"] + "-rejected", rejected
            )

    def _contact(self, session_id: str, event: dict[str, Any]) -> None:
        """Report a `contact` event as contact.updated (a push name it carries is recorded, so
        the contact's next message does not report it again)."""
        name = event["changes"].get("pushName")
        if name and self.names is not None:
            key = contact_events.name_key(event["contact"], event.get("phone"), event.get("lid"))
            self.names.seen(session_id, key, name)
        data = {k: event.get(k) for k in ("contact", "phone", "lid", "changes")}
        self._reporter.session_event(
            session_id, contact_events.CONTACT_UPDATED, event["event_id"], data
        )

    def _receipts(self, receipts: list[dict[str, str]]) -> None:
        """Apply receipts in one transaction: one commit for all (each still with its report).

        Not with a shared store: a receipt may look it up, and PostgreSQL is not waited on in a
        transaction of the node's SQLite (it would hold every writer of the node back).
        """
        if self._messages.shared is not None:
            for receipt in receipts:
                self._messages.receipt(receipt["wa_message_id"], receipt["status"])
            return
        with self._reporter.changing():
            for receipt in receipts:
                self._messages.receipt(receipt["wa_message_id"], receipt["status"])
