"""The node runtime: the sessions and messages of this node, and its lifecycle.

Celery tasks call the public methods; engines call `on_event` (handled by engine_events.py).
Every method is safe to repeat (tasks are acknowledged late, so any of them may run twice).

Lock order (never taken the other way round): a session's operation lock, then an engine's lock,
then the reporter's lock. So the runtime never calls an engine while holding the reporter's lock.
The shared session store's lock is innermost too: the store calls nothing of ours.

With a shared session store (SESSION_STORE_URL) a session can move between nodes without a new
scan (sharing.py keeps its credentials there), and the node it left keeps it `moved` (stopped,
silent, sending nothing).
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from typing import Any

import psycopg

from node_agent import INSTANCE_ID, protocol
from node_agent.chat_calls import ChatCalls
from node_agent.checks import NumberChecks
from node_agent.config import NodeConfig
from node_agent.contact_calls import ContactCalls
from node_agent.database import NodeDatabase
from node_agent.engine_events import EngineEvents
from node_agent.engines.base import Engine, holding_engine
from node_agent.engines.sandbox import SandboxEngine
from node_agent.engines.whatsapp import WhatsAppEngine, neonize_installed
from node_agent.group_calls import GroupCalls
from node_agent.messages import Messages
from node_agent.outbox import OutboxSender
from node_agent.reports import Reporter
from node_agent.send_queue import SendQueue
from node_agent.session_store import SharedSessionStore
from node_agent.sharing import SessionSharing

log = logging.getLogger(__name__)

METHODS = ("qr", "pairing_code")
SHUTDOWN_FLUSH_S = 3.0
RESTORE_POLL_S = 0.2


class NodeRuntime:
    """Everything one node runs besides Celery, the health server and the heartbeat."""

    def __init__(self, config: NodeConfig, engines: dict[str, Engine] | None = None) -> None:
        self.config = config
        self.db = NodeDatabase(config.node_db_path)
        self.outbox = OutboxSender.for_node(self.db, config)
        self.reporter = Reporter(self.db, self.outbox.wake, config.worker_id)
        self.shared: SharedSessionStore | None = None
        if config.session_store_url:
            self.shared = SharedSessionStore(config.session_store_url)
        self.sharing = SessionSharing(self.db, self.shared, config.worker_id)
        if engines is None:
            engines = {"sandbox": SandboxEngine(config, self.on_event)}
            if neonize_installed():  # the node advertises only engines it can run
                engines["whatsapp"] = WhatsAppEngine(config, self.on_event)
        self.engines: dict[str, Engine] = engines
        self.started_at = time.monotonic()
        self._locks_guard = threading.Lock()
        self._session_locks: dict[str, threading.Lock] = {}
        self.messages = Messages(self.db, self.reporter, self.engines, self.shared)
        self.send_queue = SendQueue(self.messages, self.message_send, config)
        self.checks = NumberChecks(self.db, self.engines)
        self.groups = GroupCalls(self.db, config.node_db_path, self.engines, time.monotonic)
        self.contacts = ContactCalls(self.db, config.node_db_path, self.engines)
        self.chats = ChatCalls(self.db, config.node_db_path, self.engines, self.reporter)
        self._events = EngineEvents(self.db, self.reporter, self.messages, self.sharing)
        self._events.on_group = self.groups.changed
        self._events.names = self.contacts.names
        self._events.on_call = self.chats.call_received
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
        self.sharing.start()
        self.send_queue.start()
        if restore_after is None:
            self.restore()
            return
        log.info("sessions will be restored once the node is registered")
        threading.Thread(
            target=self._restore_after, args=(restore_after,), name="restore", daemon=True
        ).start()

    def prune_send_claims(self) -> int:
        """Delete week-old send claims from the shared store; see SessionSharing."""
        return self.sharing.prune_send_claims()

    def _restore_after(self, event: threading.Event) -> None:
        while not event.wait(RESTORE_POLL_S):
            if self._closed:
                return
        with self._lifecycle:
            if not self._closed:
                self.restore()

    def restore(self) -> None:
        """Restart every `running` session with its credentials; settle lost hand-offs.

        Credentials come from the shared store first, if the node has one (see SessionSharing).
        Sessions an engine already holds are left alone.

        A message still `handed` was given to the engine before a crash, so its fate is unknown:
        it is reported failed (`delivery_unknown`), never sent again.
        """
        self.messages.settle_handed()
        for listed in self.db.session_list(desired="running"):
            with self._session_lock(listed["session_id"]):
                row = self.db.session_get(listed["session_id"])
                if row is None or row["desired"] != "running":
                    continue  # released or stopped since the list was read
                if holding_engine(self.engines, row) is not None:
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
        self.sharing.stop()
        self.send_queue.stop()
        for engine in self.engines.values():
            engine.shutdown()
        if report:
            for row in self.db.session_list(desired="running"):
                self.reporter.session_status(
                    row["session_id"], "DISCONNECTED", reason="node_shutdown"
                )
        self.outbox.stop(flush_timeout_s=flush_timeout_s)
        self.db.close()
        self.groups.store.close()
        self.contacts.names.close()
        self.chats.store.close()
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
            row = self.db.session_get(session_id)
            # A FAILED session still held by its engine waits to retry: starting it retries now.
            if (
                row
                and holding_engine(self.engines, row) is not None
                and row["last_report"]
                and row["status"] != "FAILED"
            ):
                log.info("session %s already running: repeating its status", session_id)
                self.reporter.repeat_session_status(session_id, row["last_report"])
                return
            # Back from another node: what it kept here may be stale (it may have been linked
            # again there, or logged out), so only the shared store's credentials count.
            came_back = bool(row and row["desired"] == "moved")
            row = self.db.session_upsert(
                session_id,
                user_id=str(user_id),
                engine=engine,
                method=method,
                phone_number=protocol.digits(phone_number) or None,
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
                self.db.session_update(session_id, desired="stopped")
                self.reporter.session_status(session_id, "FAILED", reason=reason)
                return
            if came_back and self.shared is not None and row["credentials"]:
                self.db.session_update(session_id, credentials=None)
                row = {**row, "credentials": None}
            self._start_engine(row)

    def _start_engine(self, row: dict[str, Any]) -> None:
        session_id = row["session_id"]
        engine = self.engines.get(row["engine"])
        if engine is None:
            self.db.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "FAILED", reason="engine_unavailable")
            return
        try:
            credentials = self.sharing.credentials_for(row)
        except psycopg.Error as exc:
            # Linking afresh would make a second device beside the one the store may hold.
            log.warning("session %s not started: session store unreachable: %s", session_id, exc)
            self.db.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "FAILED", reason="session_store_unavailable")
            return
        self.reporter.session_status(session_id, "INITIALIZING")
        engine.start(session_id, row["method"], row["phone_number"], credentials)

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
            self.db.session_update(session_id, desired="stopped")
            self.reporter.session_status(session_id, "DISCONNECTED", reason="stopped")

    def running_session_ids(self) -> list[str]:
        """Return the ids of the sessions this node runs or resumes (desired state running)."""
        return [row["session_id"] for row in self.db.session_list(desired="running")]

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
                if self.db.session_get(session_id):
                    self.db.session_update(session_id, desired="moved")

    def session_logout(self, session_id: str) -> None:
        """Unlink the device and delete its credentials; report LOGGED_OUT (`logged_out`)."""
        with self._session_lock(session_id):
            self._logout(session_id)
            self.reporter.session_status(session_id, "LOGGED_OUT", reason="logged_out")

    def _logout(self, session_id: str) -> None:
        for engine in self.engines.values():
            engine.logout(session_id)
        self.db.session_update(session_id, desired="stopped", credentials=None, jid=None)
        self.sharing.forget(session_id)

    def session_delete(self, session_id: str) -> None:
        """Log out if linked, stop, and forget the session and its local data. No report."""
        with self._session_lock(session_id):
            self._logout(session_id)
            self.db.session_delete(session_id)
            self.contacts.names.forget(session_id)
            pattern = os.path.join(self.config.session_storage_path, glob.escape(session_id) + ".*")
            for path in glob.glob(pattern):
                os.remove(path)
        with self._locks_guard:
            self._session_locks.pop(session_id, None)

    def sandbox_action(self, session_id: str, action: str, params: dict[str, Any]) -> None:
        """Pass a simulated phone action to the session's engine (ignored if not sandbox)."""
        row = self.db.session_get(session_id)
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
        self._events.handle(session_id, kind, data)

    def message_send(
        self,
        message_id: str,
        session_id: str,
        payload: dict[str, Any],
        *,
        final_attempt: bool = True,
    ) -> str:
        """Send one message exactly once; see Messages.send. Returns `not_here` (nothing sent,
        nothing reported) when the session runs on another node (`_elsewhere`): the backend
        keeps the message queued and hands it to the session's current node."""
        if self._elsewhere(session_id):
            log.info("message %s not sent: session %s is not on this node", message_id, session_id)
            return "not_here"
        return self.messages.send(message_id, session_id, payload, final_attempt=final_attempt)

    def message_enqueue(self, task: protocol.MessageSend) -> str:
        """Record a send and queue it in its session's lane; see SendQueue.enqueue.

        `not_here` (nothing recorded) when the session runs on another node."""
        if self._elsewhere(task.session_id):
            log.info(
                "message %s not queued: session %s is elsewhere", task.message_id, task.session_id
            )
            return "not_here"
        return self.send_queue.enqueue(task)

    def _elsewhere(self, session_id: str) -> bool:
        """True when the session runs on another node: its row here is `moved`, or, with a
        shared store, this node never had it."""
        row = self.db.session_get(session_id, full=False)
        return (row is not None and row["desired"] == "moved") or (
            row is None and self.shared is not None
        )

    # Health

    def running_count(self) -> int:
        """Return how many sessions the engines hold right now."""
        rows = self.db.session_list(desired="running")
        return sum(1 for row in rows if holding_engine(self.engines, row) is not None)

    def status(self) -> dict[str, Any]:
        """Return counters for health and heartbeat: sessions, connected, outboxPending, draining,
        unreachableEngines.

        `draining` is True when an engine wants the node restarted (the WhatsApp engine's file
        descriptor budget ran out); the heartbeat then reports the node DRAINING.
        `unreachableEngines` names the engines whose network did not answer its last probe.
        """
        rows = self.db.session_list(desired="running")
        return {
            "sessions": len(rows),
            "connected": sum(1 for row in rows if row["status"] == "CONNECTED"),
            "outboxPending": self.db.outbox_count(),
            "draining": any(getattr(e, "draining", False) for e in self.engines.values()),
            "unreachableEngines": sorted(n for n, e in self.engines.items() if not e.reachable()),
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
