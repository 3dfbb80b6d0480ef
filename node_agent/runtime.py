"""The node runtime: sessions and messages of this node, engines' events, reports.

Celery tasks call the public methods; engines call `on_event`. Every method is safe to repeat
(tasks are acknowledged late, so any of them may run twice).

Lock order (never taken the other way round): a session's operation lock, then an engine's lock,
then the reporter's lock. So the runtime never calls an engine while holding the reporter's lock.
The shared session store's lock is innermost too: the store calls nothing of ours.

With a shared session store (SESSION_STORE_URL) a session can move between nodes without a new
scan: its credentials are kept there on every `connected`, a node starting a session takes them
from there, and the node it left keeps it `moved` (stopped, silent, sending nothing).
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from typing import Any

import psycopg

from node_agent import INSTANCE_ID
from node_agent.config import NodeConfig
from node_agent.engines.base import Engine, TransientSendError
from node_agent.engines.sandbox import SandboxEngine
from node_agent.engines.whatsapp import WhatsAppEngine, neonize_installed
from node_agent.messages import Messages
from node_agent.outbox import OutboxSender
from node_agent.reports import Reporter
from node_agent.scheduler import Scheduler
from node_agent.session_store import SharedSessionStore
from node_agent.store import Store

log = logging.getLogger(__name__)

METHODS = ("qr", "pairing_code")
SHUTDOWN_FLUSH_S = 3.0
# Keeping credentials in an unreachable shared store is retried after 5, 10, 20, 40, 60, 60… s.
SHARE_RETRY_FIRST_S = 5.0
SHARE_RETRY_CAP_S = 60.0
RESTORE_POLL_S = 0.2
# Send claims in the shared store are kept a week (a message is retried for an hour at most),
# pruned at start and every six hours.
SEND_CLAIMS_KEEP_S = 7 * 24 * 3600.0
SEND_CLAIMS_PRUNE_EVERY_S = 6 * 3600.0


def history_item(row: dict[str, Any]) -> dict[str, Any]:
    """Return the wire form (camelCase) of one stored message row."""
    payload = row["payload"] or {}
    content = {k: v for k, v in payload.items() if k not in ("to", "chatId", "type", "id")}
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
        "content": content,
        "createdAt": row["created_at"],
        "cursor": row["id"],
    }


class NodeRuntime:
    """Everything one node runs besides Celery, the health server and the heartbeat."""

    def __init__(self, config: NodeConfig, engines: dict[str, Engine] | None = None) -> None:
        self.config = config
        self.store = Store(config.node_db_path)
        self.outbox = OutboxSender(self.store, config.backend_url, config.backend_auth_token)
        self.reporter = Reporter(self.store, self.outbox.wake, config.worker_id)
        self.shared: SharedSessionStore | None = None
        self._share_retries: Scheduler | None = None
        if config.session_store_url:
            self.shared = SharedSessionStore(config.session_store_url)
            self._share_retries = Scheduler("session-store-retries")
        if engines is None:
            engines = {"sandbox": SandboxEngine(config, self.on_event)}
            if neonize_installed():  # the node advertises only engines it can run
                engines["whatsapp"] = WhatsAppEngine(config, self.on_event)
        self.engines: dict[str, Engine] = engines
        self.started_at = time.monotonic()
        self._locks_guard = threading.Lock()
        self._session_locks: dict[str, threading.Lock] = {}
        self.messages = Messages(self.store, self.reporter, self.engines, self.shared)
        self._closed = False
        # Held while sessions are restored and while the node shuts down, so neither overlaps.
        self._lifecycle = threading.Lock()

    # Lifecycle

    def start(self, restore_after: threading.Event | None = None) -> None:
        """Start the outbox sender and resume sessions whose desired state is running.

        With `restore_after`, sessions are resumed only once that event is set (from a daemon
        thread; never after shutdown): the node waits for the backend's registration answer,
        which stops the sessions that moved to other nodes meanwhile.
        """
        self.outbox.start()
        if self._share_retries is not None:
            self._share_retries.call_later(0, self.prune_send_claims)
        if restore_after is None:
            self.restore()
            return
        log.info("sessions will be restored once the node is registered")
        threading.Thread(
            target=self._restore_after, args=(restore_after,), name="restore", daemon=True
        ).start()

    def prune_send_claims(self) -> int:
        """Delete week-old send claims from the shared store, then run again in six hours.

        Returns how many went (0 when the store is unreachable: it tries again next time).
        """
        if self.shared is None or self._share_retries is None or self._closed:
            return 0
        try:
            pruned = self.shared.sends_prune(SEND_CLAIMS_KEEP_S)
        except psycopg.Error as exc:
            log.warning("cannot prune old send claims: %s", exc)
            pruned = 0
        self._share_retries.call_later(SEND_CLAIMS_PRUNE_EVERY_S, self.prune_send_claims)
        return pruned

    def _restore_after(self, event: threading.Event) -> None:
        while not event.wait(RESTORE_POLL_S):
            if self._closed:
                return
        with self._lifecycle:
            if not self._closed:
                self.restore()

    def restore(self) -> None:
        """Restart every `running` session with its credentials; settle lost hand-offs.

        Credentials come from the shared store first, if the node has one (see _credentials).
        Sessions an engine already holds are left alone.

        A message still `handed` was given to the engine before a crash, so its fate is unknown:
        it is reported failed (`delivery_unknown`), never sent again.
        """
        self.messages.settle_handed()
        for listed in self.store.session_list(desired="running"):
            with self._session_lock(listed["session_id"]):
                row = self.store.session_get(listed["session_id"])
                engine = self.engines.get(row["engine"]) if row else None
                if row is None or row["desired"] != "running":
                    continue  # released or stopped since the list was read
                if engine is not None and engine.is_running(row["session_id"]):
                    continue  # a session_start that came during a deferred restore began it
                log.info("restoring session %s (%s)", row["session_id"], row["engine"])
                self._start_engine(row)

    def session_store_id(self) -> str:
        """Return the shared session store's id, or "" when the node has none.

        Raises psycopg.Error when the store cannot be reached.
        """
        return self.shared.store_id if self.shared is not None else ""

    def shutdown(self, flush_timeout_s: float = SHUTDOWN_FLUSH_S, *, report: bool = True) -> None:
        """Stop every engine, report running sessions DISCONNECTED, flush the outbox briefly.

        Desired states stay as they are, so the next start resumes the same sessions. Reports
        not delivered within `flush_timeout_s` stay in the outbox for the next start.
        `report=False` reports nothing: a node refused at start (another process runs its
        WORKER_ID, maybe on the same node database) must not touch that one's sessions.
        Idempotent.
        """
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
        if self._share_retries is not None:
            self._share_retries.stop()
        for engine in self.engines.values():
            engine.shutdown()
        if report:
            for row in self.store.session_list(desired="running"):
                self.reporter.session_status(
                    row["session_id"], "DISCONNECTED", reason="node_shutdown"
                )
        self.outbox.stop(flush_timeout_s=flush_timeout_s)
        self.store.close()
        if self.shared is not None:
            self.shared.close()

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
        `engine_unavailable`, `invalid_method`, `phone_number_required`, `node_full` or
        `session_store_unavailable` (the shared store is out of reach and this node has no
        credentials of the session: it is not linked afresh, which would add a second device).
        With a shared store, a session linked on another node resumes from its credentials.
        """
        with self._session_lock(session_id):
            row = self.store.session_get(session_id)
            current = self.engines.get(row["engine"]) if row else None
            # A FAILED session still held by its engine waits to retry: starting it retries now.
            if (
                row
                and current
                and current.is_running(session_id)
                and row["last_report"]
                and row["status"] != "FAILED"
            ):
                log.info("session %s already running: repeating its status", session_id)
                self.reporter.repeat_session_status(session_id, row["last_report"])
                return
            # Back from another node: what it kept here may be stale (it may have been linked
            # again there, or logged out), so only the shared store's credentials count.
            came_back = bool(row and row["desired"] == "moved")
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
            if came_back and self.shared is not None and row["credentials"]:
                self.store.session_update(session_id, credentials=None)
                row = {**row, "credentials": None}
            self._start_engine(row)

    def _start_engine(self, row: dict[str, Any]) -> None:
        session_id = row["session_id"]
        engine = self.engines.get(row["engine"])
        if engine is None:
            self.store.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "FAILED", reason="engine_unavailable")
            return
        try:
            credentials = self._credentials(row)
        except psycopg.Error as exc:
            # Linking afresh would make a second device beside the one the store may hold.
            log.warning("session %s not started: session store unreachable: %s", session_id, exc)
            self.store.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "FAILED", reason="session_store_unavailable")
            return
        self.reporter.session_status(session_id, "INITIALIZING")
        engine.start(session_id, row["method"], row["phone_number"], credentials)

    def _credentials(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Return the credentials to start a session with (None: link it afresh).

        The shared store's, of the same engine, come first: the session may have run on another
        node since it last ran here. The local row's serve when the store keeps none (they date
        from before the node had a store) or cannot be reached. Raises psycopg.Error when the
        store cannot be reached and the row has none.
        """
        local = row["credentials"]
        if self.shared is None:
            return local
        try:
            kept = self.shared.credentials_get(row["session_id"])
        except psycopg.Error as exc:
            if not local:
                raise
            log.warning(
                "session %s: store unreachable, resuming as last here: %s", row["session_id"], exc
            )
            return local
        if kept is None or kept[0] != row["engine"]:
            return local
        if kept[1] != local:
            log.info(
                "session %s resumes with the credentials of the shared store", row["session_id"]
            )
            self.store.session_update(row["session_id"], credentials=kept[1])
        return kept[1]

    def _share_credentials(
        self, session_id: str, engine: str, credentials: dict[str, Any], last_delay_s: float = 0
    ) -> None:
        """Keep a session's credentials in the shared store; retry later if it is unreachable."""
        if self.shared is None or self._share_retries is None:
            return
        try:
            self.shared.credentials_save(session_id, engine, credentials, self.config.worker_id)
        except psycopg.Error as exc:
            delay_s = min(SHARE_RETRY_CAP_S, max(SHARE_RETRY_FIRST_S, 2 * last_delay_s))
            log.warning(
                "session %s: cannot keep credentials in the session store (retry in %.0f s): %s",
                session_id,
                delay_s,
                exc,
            )
            self._share_retries.call_later(
                delay_s, lambda: self._share_again(session_id, credentials, delay_s)
            )

    def _share_again(self, session_id: str, credentials: dict[str, Any], delay_s: float) -> None:
        row = self.store.session_get(session_id)
        # Only while they are still this node's current ones.
        if row and row["desired"] == "running" and row["credentials"] == credentials:
            self._share_credentials(session_id, row["engine"], credentials, delay_s)

    def _unshare_credentials(self, session_id: str) -> None:
        """Delete a session's credentials from the shared store (best effort).

        Left behind, they are harmless: a node resuming them finds the device gone and reports
        the session LOGGED_OUT (`device_removed`).
        """
        if self.shared is None:
            return
        try:
            self.shared.credentials_delete(session_id)
        except psycopg.Error as exc:
            log.warning(
                "session %s: cannot delete credentials from the session store: %s", session_id, exc
            )

    def session_stop(self, session_id: str, moved: bool = False) -> None:
        """Close the session's connection, keep its credentials; report DISCONNECTED.

        `moved`: the session now runs on another node, so this is sessions_release instead.
        """
        if moved:
            self.sessions_release([session_id])
            return
        with self._session_lock(session_id):
            for engine in self.engines.values():
                engine.stop(session_id)
            self.store.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "DISCONNECTED", reason="stopped")

    def running_session_ids(self) -> list[str]:
        """Return the ids of the sessions this node runs or resumes (desired state running)."""
        return [row["session_id"] for row in self.store.session_list(desired="running")]

    def sessions_release(self, session_ids: list[str]) -> None:
        """Stop sessions that now run on another node: like session_stop, but report nothing.

        Credentials stay (a logout would unlink the device the other node now uses), and no
        status is reported, since the session's status is now the other node's to report. The
        row is marked `moved`: its events are dropped and message_send answers `not_here`,
        until a session_start brings the session back. Safe to repeat.
        """
        for session_id in session_ids:
            with self._session_lock(session_id):
                for engine in self.engines.values():
                    engine.stop(session_id)
                if self.store.session_get(session_id):
                    self.store.session_update(session_id, desired="moved")

    def session_logout(self, session_id: str) -> None:
        """Unlink the device and delete its credentials; report LOGGED_OUT (`logged_out`)."""
        with self._session_lock(session_id):
            self._logout(session_id)
            self.reporter.session_status(session_id, "LOGGED_OUT", reason="logged_out")

    def _logout(self, session_id: str) -> None:
        for engine in self.engines.values():
            engine.logout(session_id)
        self.store.session_update(session_id, desired="stopped", credentials=None, jid=None)
        self._unshare_credentials(session_id)

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
        if row["desired"] == "moved":
            # Its engine was stopped; whatever still comes is the other node's to report.
            log.info("event %s dropped: session %s moved to another node", kind, session_id)
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
            # Before the report: once CONNECTED, the backend may move the session elsewhere.
            self._share_credentials(session_id, row["engine"], data["credentials"])
            report(session_id, "CONNECTED", phoneNumber=data["phone_number"], jid=data["jid"])
        elif kind == "reconnecting":
            report(session_id, "RECONNECTING", reason=data["reason"])
        elif kind == "disconnected":
            report(session_id, "DISCONNECTED", reason=data["reason"])
        elif kind == "logged_out":
            self.store.session_update(session_id, desired="stopped", credentials=None, jid=None)
            self._unshare_credentials(session_id)
            report(session_id, "LOGGED_OUT", reason=data["reason"])
        elif kind == "failed":
            if not data.get("retrying"):  # else the engine keeps trying (e.g. offline)
                self.store.session_update(session_id, desired="stopped")
            report(session_id, "FAILED", reason=data["reason"])
        elif kind == "message":
            self.messages.incoming(session_id, data["incoming"])
        elif kind == "receipt":
            self.messages.receipt(data["wa_message_id"], data["status"])
        else:
            log.warning("unknown engine event %s for %s", kind, session_id)

    def message_send(
        self,
        message_id: str,
        session_id: str,
        payload: dict[str, Any],
        *,
        final_attempt: bool = True,
    ) -> str:
        """Send one message exactly once; see Messages.send.

        Returns `not_here` (nothing sent, nothing reported) when the session runs on another
        node: its row here is `moved`, or, with a shared store, this node never had it. The
        backend keeps the message queued and hands it to the session's current node.
        """
        row = self.store.session_get(session_id)
        if (row and row["desired"] == "moved") or (row is None and self.shared is not None):
            log.info("message %s not sent: session %s is not on this node", message_id, session_id)
            return "not_here"
        return self.messages.send(message_id, session_id, payload, final_attempt=final_attempt)

    def messages_list(self, session_id: str, since: int, limit: int) -> list[dict[str, Any]]:
        """Return up to `limit` (1..200) messages of a session after cursor `since`, both ways.

        Each: id (gateway id out, WhatsApp id in), waMessageId, direction, chatId, from, type,
        status, error, content (text, media descriptor, location, …), createdAt, cursor.
        """
        rows = self.store.message_page(session_id, max(0, since), max(1, min(limit, 200)))
        return [history_item(row) for row in rows]

    def check_number(self, session_id: str, phone: str) -> dict[str, Any]:
        """Return `{"jid": <jid or None>}`, or `{"error": "session_not_connected"}`."""
        row = self.store.session_get(session_id)
        engine = self.engines.get(row["engine"]) if row else None
        if engine is None or not engine.is_running(session_id):
            return {"error": "session_not_connected"}
        digits = "".join(c for c in str(phone) if c.isdigit())
        try:
            return {"jid": engine.check_number(session_id, digits)}
        except TransientSendError:
            return {"error": "session_not_connected"}

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
        """Return counters for health and heartbeat: sessions, connected, outboxPending, draining.

        `draining` is True when an engine wants the node restarted (the WhatsApp engine's file
        descriptor budget ran out); the heartbeat then reports the node DRAINING.
        """
        rows = self.store.session_list(desired="running")
        return {
            "sessions": len(rows),
            "connected": sum(1 for row in rows if row["status"] == "CONNECTED"),
            "outboxPending": self.store.outbox_count(),
            "draining": any(getattr(e, "draining", False) for e in self.engines.values()),
        }

    def health(self) -> dict[str, Any]:
        """Return the health body fields besides `status`: workerId, instanceId, counters, uptimeS.

        `instanceId` is this process's random id (node_agent.INSTANCE_ID): the backend checks it
        before refusing a second process with the same WORKER_ID.
        """
        return {
            "workerId": self.config.worker_id,
            "instanceId": INSTANCE_ID,
            **self.status(),
            "uptimeS": round(time.monotonic() - self.started_at, 1),
        }
