"""The WhatsApp engine: one neonize client (whatsmeow underneath) per session.

Per session: a store (`SESSION_STORAGE_PATH/<sessionId>.sqlite3`, or the shared PostgreSQL
store of `NEONIZE_STORE_URL`), a client and a thread of ours that runs the blocking `connect()`
and, when it fails, retries with exponential back-off and jitter. neonize's handlers only put
the event on a queue; one dispatcher thread turns events into the engine's kinds (see `EVENTS`
and README "The WhatsApp engine"). The hazards of NEONIZE.md §11–§14 are guarded here:

- every FFI call goes through the process-wide `FfiGate` (starts and stops alone, spaced);
- `get_me()` only while our `connect()` runs; a JID is resumed only if the store holds it;
- neonize's garbage-collection finalizer is detached (it would call `Stop` unguarded) and
  clients stay referenced while their connect thread lives;
- every `connect()` leaks one fd (measured), so before each one the open fds are counted against
  `WHATSAPP_FD_BUDGET`; past it the engine drains (`draining`; the heartbeat says DRAINING) and
  asks for a restart in the log. A restarted node resumes its sessions from their stores.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from node_agent.backend import MediaUnavailable, media_fetch, media_upload
from node_agent.config import NodeConfig
from node_agent.engines.base import Engine, EventCallback, PermanentSendError, TransientSendError
from node_agent.engines.whatsapp import builders, mapping
from node_agent.engines.whatsapp.ffi import (
    START_HOLD_CAP_S,
    FfiGate,
    StartHold,
    backoff_delay_s,
    default_fd_budget,
    load_neonize,
    open_fd_count,
    probe_whatsapp,
)
from node_agent.scheduler import Scheduler

log = logging.getLogger(__name__)

DEVICE_NAME = "WhatsApp Gateway"  # shown on the phone under "Linked devices"
SUPPORTED_TYPES = ("text", "location", "contact", "reaction", *builders.MEDIA_TYPES)
# Send errors after which nothing left this process (neonize/whatsmeow texts, NEONIZE.md §9).
NOT_SENT_ERRORS = ("client is nil", "websocket not connected", "doesn't contain a device jid")
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
QUEUE_WARN_SIZE = 10_000
# Received files above this are reported without being kept (the backend's MEDIA_MAX_BYTES
# default; WhatsApp's own document cap is larger).
INCOMING_MEDIA_MAX_BYTES = 100 * 1024 * 1024

# neonize event class name → our handler (`_ev_<kind>`).
EVENTS = {
    "PairStatusEv": "pair_status",
    "ConnectedEv": "connected",
    "DisconnectedEv": "disconnected",
    "KeepAliveTimeoutEv": "keepalive_timeout",
    "KeepAliveRestoredEv": "keepalive_restored",
    "LoggedOutEv": "logged_out",
    "StreamReplacedEv": "stream_replaced",
    "TemporaryBanEv": "temporary_ban",
    "ConnectFailureEv": "connect_failure",
    "ClientOutdatedEv": "client_outdated",
    "StreamErrorEv": "stream_error",
    "MessageEv": "message",
    "ReceiptEv": "receipt",
    "UndecryptableMessageEv": "undecryptable",
}


def _expires_at(ttl_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=ttl_s)).strftime(mapping.TS_FORMAT)


class _Session:
    """One run of one session (a restart makes a new one)."""

    def __init__(
        self,
        session_id: str,
        method: str,
        phone_number: str | None,
        credentials: dict[str, Any] | None,
        gen: int,
    ) -> None:
        self.session_id = session_id
        self.method = method
        self.phone_number = phone_number
        self.credentials = credentials
        self.gen = gen
        self.cancel = threading.Event()
        self.client: Any = None
        self.thread: threading.Thread | None = None
        self.state = "starting"  # starting|qr|pairing|paired|connected|reconnecting|retrying
        self.connect_running = False
        self.ever_connected = False  # a connect() was called: Go may hold this client
        self.progressed = False  # the last connect() got as far as a QR or a connection
        self.qr_index = 0
        self.paired_jid = ""
        self.connected_data: dict[str, Any] | None = None
        self.restart_reason: str | None = None
        self.failure_reason: str | None = None  # the last `failed` reported for this run
        self.resolved: dict[str, str] = {}  # phone digits → JID from is_on_whatsapp
        self.hold: StartHold | None = None  # the gate hold of the connect() starting now


class WhatsAppEngine(Engine):
    """Real WhatsApp sessions of this node through neonize 0.5.2."""

    name = "whatsapp"

    def __init__(self, config: NodeConfig, on_event: EventCallback, *, connect: bool = True):
        """Set up the engine; neonize is imported and threads start with the first session.

        `connect=False` never calls neonize's `connect()`: tests drive sessions by feeding events.
        """
        super().__init__(on_event)
        self._config = config
        self._connect_enabled = connect
        self._lock = threading.RLock()  # emits happen under it: after stop() nothing comes out
        self._sessions: dict[str, _Session] = {}
        self._gen = 0
        self._gate = FfiGate(config.whatsapp_start_spacing_s)
        self._events: queue.Queue[tuple[_Session | None, str, Any] | None] = queue.Queue()
        self._dispatcher: threading.Thread | None = None
        self._scheduler: Scheduler | None = None
        self._stuck: list[_Session] = []  # stopped, but connect() did not return in time
        self._closed = False
        self.fd_budget = config.whatsapp_fd_budget or default_fd_budget()
        self.connects = 0  # connect() calls of this process; each leaks one fd
        self._draining = threading.Event()

    # Process-wide parts

    @property
    def gate(self) -> FfiGate:
        """Return the FFI gate (shared by every client of this engine)."""
        return self._gate

    @property
    def draining(self) -> bool:
        """Return True once the fd budget ran out: the node wants a restart."""
        return self._draining.is_set()

    def _ensure_threads(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(
                target=self._dispatch, name="whatsapp-events", daemon=True
            )
            self._dispatcher.start()
            self._scheduler = Scheduler("whatsapp-timers")

    def _later(self, delay_s: float, session: _Session, kind: str, data: Any) -> None:
        if self._scheduler is not None:
            self._scheduler.call_later(delay_s, lambda: self._events.put((session, kind, data)))

    def _neonize(self) -> Any:
        return load_neonize(self._config.neonize_log_level)

    # Stores

    def store_name(self, session_id: str) -> str:
        """Return the neonize store of a session: its SQLite path or the PostgreSQL URL."""
        if self._config.neonize_store_url:
            return self._config.neonize_store_url
        return os.path.join(self._config.session_storage_path, f"{session_id}.sqlite3")

    def _store_has_device(self, device_jid: str) -> bool:
        """Return True if the PostgreSQL store holds `device_jid` (exact, with device part).

        Resuming a JID the store lacks crashes the process (NEONIZE.md §2.1). Raises
        psycopg.Error when the store cannot be reached.
        """
        import psycopg

        url = self._config.neonize_store_url
        with psycopg.connect(url, connect_timeout=5) as conn:
            try:
                row = conn.execute(
                    "SELECT 1 FROM whatsmeow_device WHERE jid = %s", (device_jid,)
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return False  # whatsmeow never ran on this store: it holds no device
        return row is not None

    def _delete_store(self, session_id: str) -> None:
        if self._config.neonize_store_url:
            return  # whatsmeow deletes the device row itself on logout
        path = self.store_name(session_id)
        for suffix in SQLITE_SUFFIXES:
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass

    # Clients

    def _new_client(self, session: _Session) -> Any:
        """Build a client with every handler registered (they must be, before connect())."""
        neonize = self._neonize()
        from neonize import events as nz_events
        from neonize.proto.Neonize_pb2 import JID
        from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps

        kwargs: dict[str, Any] = {
            # A fresh uuid per run: two clients with one uuid share Go state (NEONIZE.md §2.1).
            "uuid": f"{session.session_id}.{session.gen}",
            "props": DeviceProps(os=DEVICE_NAME, platformType=DeviceProps.CHROME),
        }
        if self._config.neonize_store_url:
            device_jid = (session.credentials or {}).get("jid")
            if device_jid:
                user, _, server = device_jid.partition("@")
                user, _, device = user.partition(":")
                kwargs["jid"] = JID(
                    User=user, Device=int(device or 0), Server=server, RawAgent=0, Integrator=0
                )
            else:
                kwargs["new_device"] = True
        else:
            os.makedirs(self._config.session_storage_path, exist_ok=True)
        client = neonize.NewClient(self.store_name(session.session_id), **kwargs)
        # Its finalizer would call Stop() from whatever thread runs the GC, beside other FFI
        # calls; we stop every client ourselves, under the gate (NEONIZE.md §12.3).
        client._stop_finalizer.detach()

        def on_qr(_client: Any, data: bytes) -> None:
            self._on_go_event(session, "qr", data)

        client.event.qr(on_qr)
        for class_name, kind in EVENTS.items():
            client.event(getattr(nz_events, class_name))(self._handler(session, kind))
        return client

    def _handler(self, session: _Session, kind: str) -> Any:
        def handle(_client: Any, event: Any) -> None:
            self._on_go_event(session, kind, event)

        return handle

    def _on_go_event(self, session: _Session, kind: str, data: Any) -> None:
        """Run on Go's thread: only release a start's gate and enqueue (never block or raise)."""
        if kind in ("qr", "connected"):
            hold = session.hold
            if hold is not None:
                hold.release()
        self._events.put((session, kind, data))

    def client_of(self, session_id: str) -> Any:
        """Return the neonize client of a running session, or None (for tests and tools)."""
        with self._lock:
            session = self._sessions.get(session_id)
            return session.client if session else None

    # Engine interface

    def start(
        self,
        session_id: str,
        method: str,
        phone_number: str | None,
        credentials: dict[str, Any] | None,
    ) -> None:
        """Start linking or resume the stored device; returns at once (connect runs in a thread).

        Restarts a running session. The first failed connect reports `failed` (e.g.
        `whatsapp_unreachable`) and the session keeps retrying with back-off until stopped.
        """
        self.stop(session_id)
        with self._lock:
            if self._closed:
                return
            self._ensure_threads()
            self._gen += 1
            session = _Session(session_id, method, phone_number, credentials, self._gen)
            self._sessions[session_id] = session
            if not self._connect_enabled:
                session.client = self._new_client(session)
                return
            session.thread = threading.Thread(
                target=self._run, args=(session,), name=f"whatsapp-{session_id}", daemon=True
            )
            session.thread.start()

    def stop(self, session_id: str) -> None:
        """Stop the session's client (under the gate) and wait for its thread; keep the store."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is not None:
                session.cancel.set()
        if session is not None:
            self._teardown(session)

    def logout(self, session_id: str) -> None:
        """Unlink the device if connected, stop, and delete the session's store. Safe to repeat.

        A session that is not connected cannot tell WhatsApp; its store is deleted all the same
        and the phone keeps listing the device until it is removed there.
        """
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is not None:
                session.cancel.set()
        if session is not None:
            if session.connect_running and session.state in ("connected", "reconnecting"):
                try:
                    with self._gate.shared():
                        session.client.logout()
                except Exception as exc:
                    log.warning("logout of %s at WhatsApp failed: %s", session_id, exc)
            self._teardown(session)
        self._delete_store(session_id)

    def is_running(self, session_id: str) -> bool:
        """Return True while the engine holds the session (also while it waits to retry)."""
        with self._lock:
            return session_id in self._sessions

    def is_connected(self, session_id: str) -> bool:
        """Ask neonize whether the session's socket is connected (an FFI call, gated)."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or session.client is None:
            return False
        with self._gate.shared():
            return bool(session.client.is_connected)

    def _connected_session(self, session_id: str) -> _Session:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or session.state != "connected" or not session.connect_running:
            raise TransientSendError("session_not_connected", "Session is not connected.")
        return session

    def send(self, session_id: str, message_id: str, payload: dict[str, Any]) -> str:
        """Send a message of any type (with `replyTo`, `mentions`) and return its WhatsApp id.

        Media bytes are fetched from the backend (`media.id`) and uploaded to WhatsApp by
        neonize's builders. Raises TransientSendError `session_not_connected`,
        `media_upload_failed` or `media_unavailable` (network), PermanentSendError
        `unsupported_type`, `recipient_not_on_whatsapp` or `media_unavailable`; other errors
        leave the fate unknown.
        """
        if payload.get("type", "text") not in SUPPORTED_TYPES:
            raise PermanentSendError("unsupported_type", f"Unsupported type {payload['type']!r}.")
        session = self._connected_session(session_id)
        target = self._target(session, payload)
        data = self._media_bytes(payload) if payload.get("type") in builders.MEDIA_TYPES else None
        neonize = self._neonize()
        try:
            with self._gate.shared():
                message = builders.build_message(session.client, payload, target, data)
        except neonize.UploadError as exc:  # nothing was sent; WhatsApp's media host failed
            raise TransientSendError("media_upload_failed", str(exc)) from exc
        try:
            with self._gate.shared():
                response = session.client.send_message(neonize.build_jid(*target), message)
        except neonize.SendMessageError as exc:
            if any(text in str(exc).lower() for text in NOT_SENT_ERRORS):
                raise TransientSendError("session_not_connected", str(exc)) from exc
            raise
        return str(response.ID)

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

    def _target(self, session: _Session, payload: dict[str, Any]) -> tuple[str, str]:
        """Return (user, server) to send to; phone numbers are checked with WhatsApp first."""
        chat_id = str(payload.get("chatId") or "")
        user, _, server = chat_id.partition("@")
        user = user.split(":")[0]
        if server and server != "s.whatsapp.net":
            return user, server  # groups, @lid, newsletters: as given
        digits = "".join(c for c in str(payload.get("to") or user) if c.isdigit())
        jid = session.resolved.get(digits) or self._lookup(session, digits)
        if jid is None:
            raise PermanentSendError("recipient_not_on_whatsapp", f"{digits} is not on WhatsApp.")
        session.resolved[digits] = jid
        user, _, server = jid.partition("@")
        return user, server

    def _lookup(self, session: _Session, digits: str) -> str | None:
        neonize = self._neonize()
        try:
            with self._gate.shared():
                answers = session.client.is_on_whatsapp("+" + digits)
        except neonize.IsOnWhatsAppError as exc:
            raise TransientSendError("session_not_connected", str(exc)) from exc
        for answer in answers:
            if answer.IsIn:
                return mapping.jid_str(answer.JID)
        return None

    def check_number(self, session_id: str, phone: str) -> str | None:
        """Return the JID of `phone` (E.164 digits) if it is on WhatsApp, else None.

        Raises TransientSendError `session_not_connected` when it cannot ask WhatsApp.
        """
        session = self._connected_session(session_id)
        digits = "".join(c for c in phone if c.isdigit())
        return self._lookup(session, digits) if digits else None

    def shutdown(self) -> None:
        """Stop every session within WHATSAPP_STOP_TIMEOUT_S, then the engine's threads.

        Returns on time even if a client does not stop (a dial in progress blocks `stop()` for
        up to ~50 s, NEONIZE.md §3); such threads are logged and left to process exit.
        """
        with self._lock:
            self._closed = True
            sessions = list(self._sessions.values())
            self._sessions.clear()
            for session in sessions:
                session.cancel.set()
        stopper = threading.Thread(
            target=lambda: [self._teardown(s) for s in sessions],
            name="whatsapp-shutdown",
            daemon=True,
        )
        stopper.start()
        stopper.join(self._config.whatsapp_stop_timeout_s)
        if stopper.is_alive():
            log.error(
                "WhatsApp sessions did not all stop within %.0f s",
                self._config.whatsapp_stop_timeout_s,
            )
        self._events.put(None)
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=2)

    # The session thread

    def _run(self, session: _Session) -> None:
        """Run the session's connects; a bug here ends the session `failed` (`engine_error`)."""
        try:
            self._connect_loop(session)
        except Exception:
            log.exception("session %s: engine error", session.session_id)
            self._finish(session, "failed", "engine_error")

    def _connect_loop(self, session: _Session) -> None:
        """Connect, and after each failed or ended connect wait (back-off) and try again."""
        attempt = 0
        while not session.cancel.is_set():
            if self._draining.is_set():
                # No more connects in this process (each leaks an fd): wait for the restart.
                self._report_failure(session, "node_draining", None)
                session.cancel.wait()
                return
            session.progressed = False
            error = self._connect_once(session)
            if session.cancel.is_set():
                return
            reason = session.restart_reason or error or "connection_closed"
            session.restart_reason = None
            attempt = 1 if session.progressed else attempt + 1
            c = self._config
            delay_s = backoff_delay_s(
                attempt, c.whatsapp_retry_min_s, c.whatsapp_retry_max_s, c.whatsapp_retry_jitter
            )
            session.state = "retrying"
            log.info(
                "session %s: %s (attempt %d), retry in %.1f s",
                session.session_id,
                reason,
                attempt,
                delay_s,
            )
            self._report_failure(session, reason, delay_s)
            session.cancel.wait(delay_s)

    def _connect_once(self, session: _Session) -> str | None:
        """Run one `connect()` under a start hold; return a failure reason or None."""
        if session.client is None:
            problem = self._resume_problem(session)
            if problem is not None:
                return problem
            if session.cancel.is_set():
                return None
            session.client = self._new_client(session)
        if self._config.whatsapp_probe_timeout_s > 0:
            problem = probe_whatsapp(
                self._config.whatsapp_probe_timeout_s, self._config.whatsapp_proxy_url
            )
            if problem is not None:
                log.log(
                    logging.INFO if session.failure_reason else logging.WARNING,
                    "session %s: WhatsApp unreachable: %s",
                    session.session_id,
                    problem,
                )
                return "whatsapp_unreachable"
        fds = open_fd_count()
        if fds >= self.fd_budget:
            self._start_draining(fds)
            return "node_draining"
        hold = self._gate.begin_start(session.cancel)
        if hold is None:
            return None
        session.hold = hold
        client = session.client
        client.me = None  # a stale `me` would release the next start's hold too early
        threading.Thread(
            target=self._watch_start, args=(client, hold), name="whatsapp-start", daemon=True
        ).start()
        session.connect_running = True
        session.ever_connected = True
        self.connects += 1
        try:
            client.connect(self._proxy_settings())
            return None
        except Exception as exc:
            level = logging.INFO if session.failure_reason else logging.WARNING
            log.log(level, "session %s: connect failed: %s", session.session_id, exc)
            return mapping.connect_error_reason(str(exc))
        finally:
            session.connect_running = False
            hold.release()

    def _proxy_settings(self) -> Any:
        if not self._config.whatsapp_proxy_url:
            return None
        from neonize._binder import ProxySettings

        return ProxySettings(proxy_address=self._config.whatsapp_proxy_url)

    @staticmethod
    def _watch_start(client: Any, hold: StartHold) -> None:
        """Release a start's hold once Go registered the client (`me` set) or after the cap."""
        deadline = time.monotonic() + START_HOLD_CAP_S
        while not hold.released.wait(0.02):
            if client.me is not None or time.monotonic() > deadline:
                hold.release()

    def _resume_problem(self, session: _Session) -> str | None:
        """Check a resume before the first connect; end the session if it cannot resume."""
        if not session.credentials:
            return None
        if not self._config.neonize_store_url:
            if not os.path.exists(self.store_name(session.session_id)):
                self._finish(session, "logged_out", "session_store_missing")
            return None
        device_jid = session.credentials.get("jid") or ""
        try:
            present = bool(device_jid) and self._store_has_device(device_jid)
        except Exception as exc:
            log.warning("session %s: store unreachable: %s", session.session_id, exc)
            return "session_store_unavailable"
        if not present:
            self._finish(session, "logged_out", "device_removed")
        return None

    def _start_draining(self, fds: int) -> None:
        if not self._draining.is_set():
            self._draining.set()
            log.error(
                "%d open file descriptors of a budget of %d after %d connects (neonize leaks "
                "one per connect): node draining, no more connects; restart this node "
                "(its sessions resume from their stores)",
                fds,
                self.fd_budget,
                self.connects,
            )

    def _report_failure(self, session: _Session, reason: str, retry_in_s: float | None) -> None:
        if reason == session.failure_reason:
            return  # already shown; attempts with the same outcome are only logged
        session.failure_reason = reason
        retry = None if retry_in_s is None else round(retry_in_s, 1)
        self._emit_for(session, "failed", reason=reason, retrying=True, retry_in_s=retry)

    # Ending sessions

    def _current(self, session: _Session) -> bool:
        with self._lock:
            return self._sessions.get(session.session_id) is session

    def _emit_for(self, session: _Session, kind: str, **data: Any) -> None:
        with self._lock:
            if self._sessions.get(session.session_id) is session:
                self.emit(session.session_id, kind, **data)

    def _finish(self, session: _Session, kind: str, reason: str) -> None:
        """End the session from inside: emit the final event, stop its client in background."""
        with self._lock:
            if self._sessions.get(session.session_id) is not session:
                return
            del self._sessions[session.session_id]
            session.cancel.set()
            self.emit(session.session_id, kind, reason=reason)
        delete = kind == "logged_out"
        threading.Thread(
            target=self._teardown,
            args=(session, delete),
            name=f"whatsapp-end-{session.session_id}",
            daemon=True,
        ).start()

    def _restart(self, session: _Session, reason: str) -> None:
        """Report `failed` (retrying) and end this connect; the session thread backs off."""
        session.restart_reason = reason
        self._report_failure(session, reason, None)
        if session.connect_running:
            threading.Thread(target=self._stop_client, args=(session,), daemon=True).start()

    def _stop_client(self, session: _Session) -> None:
        if session.client is not None and session.ever_connected:
            with self._gate.exclusive():
                session.client.stop()

    def _teardown(self, session: _Session, delete_store: bool = False) -> None:
        """Stop the client (gated), wait for the session thread; optionally delete the store."""
        self._stop_client(session)
        thread = session.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._config.whatsapp_stop_timeout_s)
            if thread.is_alive():
                log.warning("session %s: connect did not return after stop", session.session_id)
                with self._lock:
                    self._stuck.append(session)  # keep the client referenced
        if delete_store:
            self._delete_store(session.session_id)

    # The dispatcher

    def _dispatch(self) -> None:
        while True:
            if self._events.qsize() > QUEUE_WARN_SIZE:
                log.warning("WhatsApp event queue holds %d events", self._events.qsize())
            item = self._events.get()
            if item is None:
                return
            session, kind, data = item
            if session is None:  # a marker from wait_idle()
                data.set()
                continue
            if not self._current(session):
                continue
            try:
                getattr(self, f"_ev_{kind}")(session, data)
            except Exception:
                log.exception("session %s: %s event failed", session.session_id, kind)

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until the dispatcher has handled every queued event (tests); True if so."""
        done = threading.Event()
        self._events.put((None, "marker", done))
        return done.wait(timeout_s)

    def _ev_qr(self, session: _Session, data: bytes) -> None:
        session.qr_index += 1
        index = session.qr_index
        session.progressed = True
        session.failure_reason = None
        if session.credentials:
            # The store had no device to resume (NEONIZE.md §14.3): never pair it silently.
            self._finish(session, "logged_out", "device_removed")
            return
        c = self._config
        ttl_s = c.whatsapp_qr_first_ttl_s if index == 1 else c.whatsapp_qr_ttl_s
        self._later(ttl_s + c.whatsapp_qr_grace_s, session, "qr_expired", index)
        if session.method == "pairing_code":
            session.state = "pairing"
            if index == 1:
                threading.Thread(
                    target=self._pair_phone, args=(session,), name="whatsapp-pair", daemon=True
                ).start()
            return
        session.state = "qr"
        self._emit_for(
            session,
            "qr",
            qr_string=data.decode(),
            expires_at=_expires_at(ttl_s),
            index=index,
        )

    def _ev_qr_expired(self, session: _Session, index: int) -> None:
        # whatsmeow: 6 codes, the first valid 60 s, then 20 s each; none after the last.
        if session.qr_index == index and session.state in ("qr", "pairing"):
            self._finish(session, "failed", "qr_timeout")

    def _pair_phone(self, session: _Session) -> None:
        """Ask for a pairing code (after the first QR, off the Go thread) and report it."""
        neonize = self._neonize()
        from neonize.utils.enum import ClientName, ClientType

        try:
            with self._gate.shared():
                code = session.client.PairPhone(
                    session.phone_number or "", True, ClientName.LINUX, ClientType.CHROME
                )
        except Exception as exc:
            log.warning("session %s: pairing code failed: %s", session.session_id, exc)
            if isinstance(exc, neonize.PairPhoneError):
                self._finish(session, "failed", "pairing_code_failed")
            return
        self._emit_for(session, "pair_code", code=code)

    def _ev_pair_status(self, session: _Session, event: Any) -> None:
        if event.Status == mapping.PAIR_SUCCESS:
            session.state = "paired"
            session.paired_jid = mapping.jid_str(event.ID, with_device=True)
            log.info("session %s paired as %s", session.session_id, session.paired_jid)
        else:
            log.warning("session %s: pairing failed: %s", session.session_id, event.Error)
            self._finish(session, "failed", "pairing_failed")

    def _me(self, session: _Session) -> Any:
        me = session.client.me
        if me is not None and me.JID.User:
            return me
        if session.connect_running:  # get_me() without a running connect crashes the process
            with self._gate.shared():
                me = session.client.get_me()
            if me.JID.User:
                return me
        return None

    def _ev_connected(self, session: _Session, event: Any) -> None:
        session.progressed = True
        session.failure_reason = None
        me = self._me(session)
        if me is not None:
            device_jid = mapping.jid_str(me.JID, with_device=True)
            lid = mapping.jid_str(me.LID) if me.LID.User else None
            push_name = me.PushName or None
        else:
            known = session.credentials or {}
            device_jid = session.paired_jid or known.get("jid", "")
            lid, push_name = known.get("lid"), None
        user, _, server = device_jid.partition("@")
        phone = user.split(":")[0]
        credentials = {
            "jid": device_jid,
            "lid": lid,
            "store": "postgres" if self._config.neonize_store_url else "sqlite",
        }
        session.credentials = credentials
        session.connected_data = {
            "phone_number": phone,
            "jid": f"{phone}@{server}" if phone else "",
            "lid": lid,
            "push_name": push_name,
            "credentials": credentials,
        }
        session.state = "connected"
        self._emit_for(session, "connected", **session.connected_data)

    def _ev_disconnected(self, session: _Session, event: Any) -> None:
        if session.state == "connected":  # whatsmeow reconnects by itself
            session.state = "reconnecting"
            self._emit_for(session, "reconnecting", reason="connection_lost")

    def _ev_keepalive_timeout(self, session: _Session, event: Any) -> None:
        if session.state == "connected":
            session.state = "reconnecting"
            self._emit_for(session, "reconnecting", reason="keepalive_timeout")

    def _ev_keepalive_restored(self, session: _Session, event: Any) -> None:
        if session.state == "reconnecting" and session.connected_data:
            session.state = "connected"
            self._emit_for(session, "connected", **session.connected_data)

    def _ev_logged_out(self, session: _Session, event: Any) -> None:
        self._finish(session, "logged_out", mapping.logout_reason(event))

    def _ev_stream_replaced(self, session: _Session, event: Any) -> None:
        log.warning("session %s: connected elsewhere (stream replaced)", session.session_id)
        self._finish(session, "failed", "stream_replaced")

    def _ev_temporary_ban(self, session: _Session, event: Any) -> None:
        log.warning(
            "session %s: temporary ban, code %s, %s s left",
            session.session_id,
            event.Code,
            event.Expire,
        )
        self._finish(session, "failed", "temporary_ban")

    def _ev_connect_failure(self, session: _Session, event: Any) -> None:
        kind, reason, retry = mapping.connect_failure(event)
        log.warning("session %s: connect failure %s: %s", session.session_id, reason, event.Message)
        if retry:
            self._restart(session, reason)
        else:
            self._finish(session, kind, reason)

    def _ev_client_outdated(self, session: _Session, event: Any) -> None:
        log.error("WhatsApp rejected this neonize/whatsmeow version: upgrade neonize")
        self._finish(session, "failed", "client_outdated")

    def _ev_stream_error(self, session: _Session, event: Any) -> None:
        log.warning("session %s: stream error %s", session.session_id, event.Code)
        self._ev_disconnected(session, event)

    def _ev_message(self, session: _Session, event: Any) -> None:
        incoming = mapping.incoming(event)
        if incoming is None:
            return
        if incoming.get("media"):
            self._save_incoming_media(session, event, incoming["media"])
        self._emit_for(session, "message", incoming=incoming)

    def _save_incoming_media(self, session: _Session, event: Any, media: dict[str, Any]) -> None:
        """Download a received file and upload it to the backend's storage; add its `id`.

        Files above INCOMING_MEDIA_MAX_BYTES are not downloaded (neonize holds whole files in
        memory, NEONIZE.md §8); on any failure the message is reported without a media id.
        """
        if media.get("size", 0) > INCOMING_MEDIA_MAX_BYTES:
            log.info("session %s: received file too large to keep", session.session_id)
            return
        neonize = self._neonize()
        try:
            with self._gate.shared():
                data = session.client.download_any(event.Message)
        except neonize.DownloadError as exc:
            log.warning("session %s: media download failed: %s", session.session_id, exc)
            return
        if not data:
            return
        stored = media_upload(
            self._config.backend_url,
            self._config.backend_auth_token,
            session_id=session.session_id,
            data=bytes(data),
            mimetype=media.get("mimetype") or "",
            filename=media.get("filename") or "",
        )
        if stored:
            media["id"] = stored["id"]
            media["sha256"] = stored["sha256"]

    def _ev_receipt(self, session: _Session, event: Any) -> None:
        for wa_message_id, status in mapping.receipts(event):
            self._emit_for(session, "receipt", wa_message_id=wa_message_id, status=status)

    def _ev_undecryptable(self, session: _Session, event: Any) -> None:
        log.info("session %s: undecryptable message %s", session.session_id, event.Info.ID)


def build_text_message(payload: dict[str, Any], target: tuple[str, str]) -> Any:
    """Build the waE2E Message of a text payload (see builders.build_text)."""
    return builders.build_text(payload, target)
