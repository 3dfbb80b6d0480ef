"""The WhatsApp engine's session registry: the current run of each session, and ending runs.

Only the current run of a session may emit events, and it emits under the registry's lock, so
once `stop()` has taken a run out nothing more of it comes out. A run ends from outside
(`pop`, by a stop or logout) or from inside (`finish`, on a final event); either way its client
is stopped under the FFI gate and its connect thread waited for (`teardown`). A client whose
connect() does not return in time stays referenced (`stuck`): Go may still call into it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from node_agent.config import NodeConfig
from node_agent.engines.whatsapp.device_store import DeviceStore
from node_agent.engines.whatsapp.ffi import FfiGate
from node_agent.engines.whatsapp.run import SessionRun

log = logging.getLogger(__name__)

# emit(session_id, kind, **data): hands an event to the node runtime (Engine.emit).
Emit = Callable[..., None]


class SessionRegistry:
    """The runs of one engine; `lock` (re-entrant) guards them and every emit."""

    def __init__(
        self, config: NodeConfig, gate: FfiGate, device_store: DeviceStore, emit: Emit
    ) -> None:
        self._config = config
        self._gate = gate
        self._device_store = device_store
        self._emit = emit
        self.lock = threading.RLock()
        self._runs: dict[str, SessionRun] = {}
        self._gen = 0
        self._stuck: list[SessionRun] = []
        self.closed = False

    # Which run is current

    def add(
        self,
        session_id: str,
        method: str,
        phone_number: str | None,
        credentials: dict[str, Any] | None,
    ) -> SessionRun:
        """Make a new run the session's current one (the caller ended the previous one)."""
        with self.lock:
            self._gen += 1
            run = SessionRun(session_id, method, phone_number, credentials, self._gen)
            self._runs[session_id] = run
            return run

    def get(self, session_id: str) -> SessionRun | None:
        """Return the session's current run, or None."""
        with self.lock:
            return self._runs.get(session_id)

    def pop(self, session_id: str) -> SessionRun | None:
        """Take the session's run out and cancel it (it emits nothing more); None if none."""
        with self.lock:
            run = self._runs.pop(session_id, None)
            if run is not None:
                run.cancel.set()
            return run

    def close(self) -> list[SessionRun]:
        """Refuse new runs; take every run out, cancelled, and return them (engine shutdown)."""
        with self.lock:
            self.closed = True
            runs = list(self._runs.values())
            self._runs.clear()
            for run in runs:
                run.cancel.set()
            return runs

    def current(self, run: SessionRun) -> bool:
        """Return True while `run` is its session's current run."""
        with self.lock:
            return self._runs.get(run.session_id) is run

    # Events

    def emit_for(self, run: SessionRun, kind: str, **data: Any) -> None:
        """Emit an event of `run`'s session, only while `run` is current."""
        with self.lock:
            if self._runs.get(run.session_id) is run:
                self._emit(run.session_id, kind, **data)

    def report_failure(self, run: SessionRun, reason: str, retry_in_s: float | None) -> None:
        """Emit `failed` (retrying, `retry_in_s` s or None) unless `reason` was the last one."""
        if reason == run.failure_reason:
            return  # already shown; attempts with the same outcome are only logged
        run.failure_reason = reason
        retry = None if retry_in_s is None else round(retry_in_s, 1)
        self.emit_for(run, "failed", reason=reason, retrying=True, retry_in_s=retry)

    # Ending runs

    def finish(self, run: SessionRun, kind: str, reason: str) -> None:
        """End the run from inside: emit the final `kind` event, stop its client in background.

        `logged_out` also deletes the session's device store.
        """
        with self.lock:
            if self._runs.get(run.session_id) is not run:
                return
            del self._runs[run.session_id]
            run.cancel.set()
            self._emit(run.session_id, kind, reason=reason)
        threading.Thread(
            target=self.teardown,
            args=(run, kind == "logged_out"),
            name=f"whatsapp-end-{run.session_id}",
            daemon=True,
        ).start()

    def restart(self, run: SessionRun, reason: str) -> None:
        """Report `failed` (retrying) and end this connect; the run's thread backs off."""
        run.restart_reason = reason
        self.report_failure(run, reason, None)
        if run.connect_running:
            threading.Thread(target=self.stop_client, args=(run,), daemon=True).start()

    def stop_client(self, run: SessionRun) -> None:
        """Stop the run's client under the exclusive gate, if Go may hold it."""
        if run.client is not None and run.ever_connected:
            with self._gate.exclusive():
                run.client.stop()

    def teardown(self, run: SessionRun, delete_device_store: bool = False) -> None:
        """Stop the client (gated), wait for the run's thread; optionally delete its store."""
        self.stop_client(run)
        thread = run.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._config.whatsapp_stop_timeout_s)
            if thread.is_alive():
                log.warning("session %s: connect did not return after stop", run.session_id)
                with self.lock:
                    self._stuck.append(run)  # keep the client referenced
        if delete_device_store:
            self._device_store.delete(run.session_id)
