"""The connect thread of each WhatsApp session run: connect, and retry with back-off.

Each run has one thread of ours that runs neonize's blocking `connect()` and, when it fails or
ends, waits (exponential back-off with jitter, WHATSAPP_RETRY_*) and connects again until the
run is cancelled. The first failure of a kind is reported (`failed`, retrying); repeats are only
logged. Before a connect:

- a resume is checked against its device store (a JID the store lacks crashes the process,
  measured on neonize 0.5.2): a missing store or device ends the session `logged_out`;
- WhatsApp (or the proxy) is probed with a plain TCP connection, which is cheaper than a failing
  `connect()` (measured on neonize 0.5.2);
- the open fds are counted against WHATSAPP_FD_BUDGET, since every `connect()` leaks one fd
  (measured): past it the engine drains (`draining`; the heartbeat says DRAINING), connects no
  more and asks for a restart in the log. A restarted node resumes its sessions from their stores.

The connect itself holds the FFI gate alone until Go has registered the client (StartHold).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from node_agent.config import NodeConfig
from node_agent.engines.whatsapp import mapping
from node_agent.engines.whatsapp.client import proxy_settings
from node_agent.engines.whatsapp.device_store import DeviceStore
from node_agent.engines.whatsapp.ffi import (
    START_HOLD_CAP_S,
    FfiGate,
    StartHold,
    backoff_delay_s,
    default_fd_budget,
    open_fd_count,
    probe_whatsapp,
)
from node_agent.engines.whatsapp.registry import SessionRegistry
from node_agent.engines.whatsapp.run import SessionRun

log = logging.getLogger(__name__)


class Connector:
    """Run the connects of every session run of one engine.

    `new_client(run)` builds a run's neonize client (client.py) the first time it connects.
    """

    def __init__(
        self,
        config: NodeConfig,
        gate: FfiGate,
        registry: SessionRegistry,
        device_store: DeviceStore,
        new_client: Callable[[SessionRun], Any],
    ) -> None:
        self._config = config
        self._gate = gate
        self._registry = registry
        self._device_store = device_store
        self._new_client = new_client
        self.fd_budget = config.whatsapp_fd_budget or default_fd_budget()
        self.connects = 0  # connect() calls of this process; each leaks one fd
        self._draining = threading.Event()

    @property
    def draining(self) -> bool:
        """Return True once the fd budget ran out: the node wants a restart."""
        return self._draining.is_set()

    def spawn(self, run: SessionRun) -> None:
        """Start the run's connect thread (it lives until the run is cancelled)."""
        run.thread = threading.Thread(
            target=self._run, args=(run,), name=f"whatsapp-{run.session_id}", daemon=True
        )
        run.thread.start()

    def _run(self, run: SessionRun) -> None:
        """Run the connects; a bug here ends the session `failed` (`engine_error`)."""
        try:
            self._connect_loop(run)
        except Exception:
            log.exception("session %s: engine error", run.session_id)
            self._registry.finish(run, "failed", "engine_error")

    def _connect_loop(self, run: SessionRun) -> None:
        """Connect, and after each failed or ended connect wait (back-off) and try again."""
        attempt = 0
        while not run.cancel.is_set():
            if self._draining.is_set():
                # No more connects in this process (each leaks an fd): wait for the restart.
                self._registry.report_failure(run, "node_draining", None)
                run.state = "draining"
                run.cancel.wait()
                return
            run.progressed = False
            error = self._connect_once(run)
            if run.cancel.is_set():
                return
            reason = run.restart_reason or error or "connection_closed"
            run.restart_reason = None
            attempt = 1 if run.progressed else attempt + 1
            c = self._config
            delay_s = backoff_delay_s(
                attempt, c.whatsapp_retry_min_s, c.whatsapp_retry_max_s, c.whatsapp_retry_jitter
            )
            run.state = "retrying"
            log.info(
                "session %s: %s (attempt %d), retry in %.1f s",
                run.session_id,
                reason,
                attempt,
                delay_s,
            )
            self._registry.report_failure(run, reason, delay_s)
            run.cancel.wait(delay_s)

    def _connect_once(self, run: SessionRun) -> str | None:
        """Run one `connect()` under a start hold; return a failure reason or None."""
        if run.client is None:
            problem = self._resume_problem(run)
            if problem is not None:
                return problem
            if run.cancel.is_set():
                return None
            run.client = self._new_client(run)
        if self._config.whatsapp_probe_timeout_s > 0:
            problem = probe_whatsapp(
                self._config.whatsapp_probe_timeout_s, self._config.whatsapp_proxy_url
            )
            if problem is not None:
                log.log(
                    logging.INFO if run.failure_reason else logging.WARNING,
                    "session %s: WhatsApp unreachable: %s",
                    run.session_id,
                    problem,
                )
                return "whatsapp_unreachable"
        fds = open_fd_count()
        if fds >= self.fd_budget:
            self._start_draining(fds)
            return "node_draining"
        hold = self._gate.begin_start(run.cancel)
        if hold is None:
            return None
        run.hold = hold
        client = run.client
        client.me = None  # a stale `me` would release the next start's hold too early
        threading.Thread(
            target=self._watch_start, args=(client, hold), name="whatsapp-start", daemon=True
        ).start()
        run.connect_running = True
        run.ever_connected = True
        self.connects += 1
        try:
            client.connect(proxy_settings(self._config))
            return None
        except Exception as exc:
            level = logging.INFO if run.failure_reason else logging.WARNING
            log.log(level, "session %s: connect failed: %s", run.session_id, exc)
            return mapping.connect_error_reason(str(exc))
        finally:
            run.connect_running = False
            hold.release()

    @staticmethod
    def _watch_start(client: Any, hold: StartHold) -> None:
        """Release a start's hold once Go registered the client (`me` set) or after the cap."""
        deadline = time.monotonic() + START_HOLD_CAP_S
        while not hold.released.wait(0.02):
            if client.me is not None or time.monotonic() > deadline:
                hold.release()

    def _resume_problem(self, run: SessionRun) -> str | None:
        """Check a resume before the first connect; end the session if it cannot resume.

        Returns `session_store_unavailable` when the PostgreSQL store cannot be reached (the
        run retries), else None.
        """
        if not run.credentials:
            return None
        if not self._device_store.shared:
            if not self._device_store.file_exists(run.session_id):
                self._registry.finish(run, "logged_out", "session_store_missing")
            return None
        device_jid = run.credentials.get("jid") or ""
        try:
            present = bool(device_jid) and self._device_store.has_device(device_jid)
        except Exception as exc:
            log.warning("session %s: store unreachable: %s", run.session_id, exc)
            return "session_store_unavailable"
        if not present:
            self._registry.finish(run, "logged_out", "device_removed")
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
