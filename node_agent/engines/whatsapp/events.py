"""The WhatsApp engine's event dispatcher: neonize's events turned into the engine's kinds.

neonize calls our handlers on Go's thread, where they only put the event on a queue
(`on_go_event`); one dispatcher thread takes them in order and handles each in `_ev_<kind>`
(client.EVENTS maps neonize's event classes to kinds): QR codes and their expiry, pairing,
connected, connection drops, logouts, final failures, incoming messages (received files are
uploaded to the backend first), receipts, group changes (group_events.py), contacts'
pictures (contact_events.py) and presence (presence.py). Events of a run that is no longer
current are dropped. What the handlers emit is engines/base.py's kinds, through the session
registry.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from node_agent.backend import media_upload
from node_agent.clock import utc_in_iso
from node_agent.config import NodeConfig
from node_agent.engines.whatsapp import (
    calls,
    contact_events,
    group_events,
    mapping,
    message_actions,
    presence,
)
from node_agent.engines.whatsapp.ffi import FfiGate, load_neonize
from node_agent.engines.whatsapp.registry import SessionRegistry
from node_agent.engines.whatsapp.run import SessionRun
from node_agent.scheduler import Scheduler

log = logging.getLogger(__name__)

QUEUE_WARN_SIZE = 10_000
# Received files above this are reported without being kept (the backend's MEDIA_MAX_BYTES
# default; WhatsApp's own document cap is larger).
INCOMING_MEDIA_MAX_BYTES = 100 * 1024 * 1024

# A queue item: (run, kind, data); (None, "marker", Event) from wait_idle; None stops the thread.
Item = tuple[SessionRun | None, str, Any] | None


class EventDispatcher:
    """Handle the events of every run of one engine on one thread, started on first use."""

    def __init__(self, config: NodeConfig, gate: FfiGate, registry: SessionRegistry) -> None:
        self._config = config
        self._gate = gate
        self._registry = registry
        self._events: queue.Queue[Item] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._timers: Scheduler | None = None

    def start(self) -> None:
        """Start the dispatcher and its timer threads (idempotent; call under the registry lock)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._dispatch, name="whatsapp-events", daemon=True
            )
            self._thread.start()
            self._timers = Scheduler("whatsapp-timers")

    def stop(self) -> None:
        """Stop the threads once the events queued before have been handled (engine shutdown)."""
        self._events.put(None)
        if self._timers is not None:
            self._timers.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def on_go_event(self, run: SessionRun, kind: str, data: Any) -> None:
        """Run on Go's thread: only release a start's gate and enqueue (never block or raise)."""
        if kind in ("qr", "connected"):
            hold = run.hold
            if hold is not None:
                hold.release()
        self._events.put((run, kind, data))

    def _later(self, delay_s: float, run: SessionRun, kind: str, data: Any) -> None:
        """Queue the event `kind` of `run` in `delay_s` seconds (a timer, e.g. a QR's expiry)."""
        if self._timers is not None:
            self._timers.call_later(delay_s, lambda: self._events.put((run, kind, data)))

    def _dispatch(self) -> None:
        while True:
            if self._events.qsize() > QUEUE_WARN_SIZE:
                log.warning("WhatsApp event queue holds %d events", self._events.qsize())
            item = self._events.get()
            if item is None:
                return
            run, kind, data = item
            if run is None:  # a marker from wait_idle()
                data.set()
                continue
            if not self._registry.current(run):
                continue
            try:
                getattr(self, f"_ev_{kind}")(run, data)
            except Exception:
                log.exception("session %s: %s event failed", run.session_id, kind)

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until the dispatcher has handled every queued event (tests); True if so."""
        done = threading.Event()
        self._events.put((None, "marker", done))
        return done.wait(timeout_s)

    def _ev_qr(self, run: SessionRun, data: bytes) -> None:
        run.qr_index += 1
        index = run.qr_index
        run.progressed = True
        run.failure_reason = None
        if run.credentials:
            # The store had no device to resume (measured on neonize 0.5.2): never pair it silently.
            self._registry.finish(run, "logged_out", "device_removed")
            return
        c = self._config
        ttl_s = c.whatsapp_qr_first_ttl_s if index == 1 else c.whatsapp_qr_ttl_s
        self._later(ttl_s + c.whatsapp_qr_grace_s, run, "qr_expired", index)
        if run.method == "pairing_code":
            run.state = "pairing"
            if index == 1:
                threading.Thread(
                    target=self._pair_phone, args=(run,), name="whatsapp-pair", daemon=True
                ).start()
            return
        run.state = "qr"
        self._registry.emit_for(
            run,
            "qr",
            qr_string=data.decode(),
            expires_at=utc_in_iso(ttl_s),
            index=index,
        )

    def _ev_qr_expired(self, run: SessionRun, index: int) -> None:
        # whatsmeow: 6 codes, the first valid 60 s, then 20 s each; none after the last.
        if run.qr_index == index and run.state in ("qr", "pairing"):
            self._registry.finish(run, "failed", "qr_timeout")

    def _pair_phone(self, run: SessionRun) -> None:
        """Ask for a pairing code (after the first QR, off the Go thread) and report it."""
        neonize = load_neonize(self._config.neonize_log_level)
        from neonize.utils.enum import ClientName, ClientType  # lazy: neonize (ffi.py)

        try:
            with self._gate.shared():
                code = run.client.PairPhone(
                    run.phone_number or "", True, ClientName.LINUX, ClientType.CHROME
                )
        except Exception as exc:
            log.warning("session %s: pairing code failed: %s", run.session_id, exc)
            if isinstance(exc, neonize.PairPhoneError):
                self._registry.finish(run, "failed", "pairing_code_failed")
            return
        self._registry.emit_for(run, "pair_code", code=code)

    def _ev_pair_status(self, run: SessionRun, event: Any) -> None:
        if event.Status == mapping.PAIR_SUCCESS:
            run.state = "paired"
            run.paired_jid = mapping.jid_str(event.ID, with_device=True)
            log.info("session %s paired as %s", run.session_id, run.paired_jid)
        else:
            log.warning("session %s: pairing failed: %s", run.session_id, event.Error)
            self._registry.finish(run, "failed", "pairing_failed")

    def _me(self, run: SessionRun) -> Any:
        me = run.client.me
        if me is not None and me.JID.User:
            return me
        if run.connect_running:  # get_me() without a running connect crashes the process
            with self._gate.shared():
                me = run.client.get_me()
            if me.JID.User:
                return me
        return None

    def _ev_connected(self, run: SessionRun, event: Any) -> None:
        run.progressed = True
        run.failure_reason = None
        me = self._me(run)
        if me is not None:
            device_jid = mapping.jid_str(me.JID, with_device=True)
            lid = mapping.jid_str(me.LID) if me.LID.User else None
            push_name = me.PushName or None
        else:
            known = run.credentials or {}
            device_jid = run.paired_jid or known.get("jid", "")
            lid, push_name = known.get("lid"), None
        user, _, server = device_jid.partition("@")
        phone = user.split(":")[0]
        credentials = {
            "jid": device_jid,
            "lid": lid,
            "store": "postgres" if self._config.neonize_store_url else "sqlite",
        }
        run.credentials = credentials
        run.connected_data = {
            "phone_number": phone,
            "jid": f"{phone}@{server}" if phone else "",
            "lid": lid,
            "push_name": push_name,
            "credentials": credentials,
        }
        run.state = "connected"
        self._registry.emit_for(run, "connected", **run.connected_data)

    def _ev_disconnected(self, run: SessionRun, event: Any) -> None:
        if run.state == "connected":  # whatsmeow reconnects by itself
            run.state = "reconnecting"
            self._registry.emit_for(run, "reconnecting", reason="connection_lost")

    def _ev_keepalive_timeout(self, run: SessionRun, event: Any) -> None:
        if run.state == "connected":
            run.state = "reconnecting"
            self._registry.emit_for(run, "reconnecting", reason="keepalive_timeout")

    def _ev_keepalive_restored(self, run: SessionRun, event: Any) -> None:
        if run.state == "reconnecting" and run.connected_data:
            run.state = "connected"
            self._registry.emit_for(run, "connected", **run.connected_data)

    def _ev_logged_out(self, run: SessionRun, event: Any) -> None:
        self._registry.finish(run, "logged_out", mapping.logout_reason(event))

    def _ev_stream_replaced(self, run: SessionRun, event: Any) -> None:
        log.warning("session %s: connected elsewhere (stream replaced)", run.session_id)
        self._registry.finish(run, "failed", "stream_replaced")

    def _ev_temporary_ban(self, run: SessionRun, event: Any) -> None:
        log.warning(
            "session %s: temporary ban, code %s, %s s left",
            run.session_id,
            event.Code,
            event.Expire,
        )
        self._registry.finish(run, "failed", "temporary_ban")

    def _ev_connect_failure(self, run: SessionRun, event: Any) -> None:
        kind, reason, retry = mapping.connect_failure(event)
        log.warning("session %s: connect failure %s: %s", run.session_id, reason, event.Message)
        if retry:
            self._registry.restart(run, reason)
        else:
            self._registry.finish(run, kind, reason)

    def _ev_client_outdated(self, run: SessionRun, event: Any) -> None:
        log.error("WhatsApp rejected this neonize/whatsmeow version: upgrade neonize")
        self._registry.finish(run, "failed", "client_outdated")

    def _ev_stream_error(self, run: SessionRun, event: Any) -> None:
        log.warning("session %s: stream error %s", run.session_id, event.Code)
        self._ev_disconnected(run, event)

    def _ev_message(self, run: SessionRun, event: Any) -> None:
        action = message_actions.action_of(event, lambda e: self._decrypt_vote(run, e))
        if action is not None:
            self._registry.emit_for(run, "event", **action)
            return
        incoming = mapping.incoming(event)
        if incoming is None:
            return
        if incoming.get("media"):
            self._save_incoming_media(run, event, incoming["media"])
        self._registry.emit_for(run, "message", incoming=incoming)

    def _decrypt_vote(self, run: SessionRun, event: Any) -> Any:
        """neonize's `decrypt_poll_vote` of a poll update (it needs the poll's secret, which
        whatsmeow keeps from the poll the session sent)."""
        with self._gate.shared():
            return run.client.decrypt_poll_vote(event)

    def _save_incoming_media(self, run: SessionRun, event: Any, media: dict[str, Any]) -> None:
        """Download a received file and upload it to the backend's storage; add its `id`.

        Files above INCOMING_MEDIA_MAX_BYTES are not downloaded (neonize holds whole files in
        memory); on any failure the message is reported without a media id.
        """
        if media.get("size", 0) > INCOMING_MEDIA_MAX_BYTES:
            log.info("session %s: received file too large to keep", run.session_id)
            return
        neonize = load_neonize(self._config.neonize_log_level)
        try:
            with self._gate.shared():
                data = run.client.download_any(event.Message)
        except neonize.DownloadError as exc:
            log.warning("session %s: media download failed: %s", run.session_id, exc)
            return
        if not data:
            return
        stored = media_upload(
            self._config.backend_url,
            self._config.backend_auth_token,
            session_id=run.session_id,
            data=bytes(data),
            mimetype=media.get("mimetype") or "",
            filename=media.get("filename") or "",
        )
        if stored:
            media["id"] = stored["id"]
            media["sha256"] = stored["sha256"]

    def _ev_receipt(self, run: SessionRun, event: Any) -> None:
        for wa_message_id, status in mapping.receipts(event):
            self._registry.emit_for(run, "receipt", wa_message_id=wa_message_id, status=status)
        for read in message_actions.group_reads(event):  # who read it, in a group
            self._registry.emit_for(run, "event", **read)

    def _ev_group(self, run: SessionRun, event: Any) -> None:
        for change in group_events.changes_of(event, group_events.own_jids(run)):
            self._registry.emit_for(run, "group", **change)

    def _ev_picture(self, run: SessionRun, event: Any) -> None:
        change = contact_events.picture_changed(event)
        if change is None:  # a group's picture
            self._ev_group(run, event)
        else:
            self._registry.emit_for(run, "contact", **change)

    def _ev_presence(self, run: SessionRun, event: Any) -> None:
        found = presence.presence_of(event)
        if found is not None:
            self._registry.emit_for(run, "presence", **found)

    def _ev_call(self, run: SessionRun, event: Any) -> None:
        self._registry.emit_for(run, "call", **calls.call_of(event))

    def _ev_undecryptable(self, run: SessionRun, event: Any) -> None:
        log.info("session %s: undecryptable message %s", run.session_id, event.Info.ID)
