"""Register the node with the backend and send heartbeats, from one daemon thread.

Registration is retried with back-off until the backend answers 2xx (it may start after the
node). Heartbeats go straight out every WORKER_HEARTBEAT_INTERVAL s, not through the outbox: a
missed one is just missed. A 404 heartbeat (the backend forgot the node) triggers registration.

Both carry `instanceId` (node_agent.INSTANCE_ID, new on every start). The backend answers 409
`worker_id_in_use` when another running process uses this WORKER_ID: a heartbeat refused so
(another process registered since) triggers registration too, and a registration refused so
means this process must not run: `register_once` raises WorkerIdInUse (the node exits before
consuming anything), the background registration calls `stop_fn`.

Metrics: `cpuUsage` is this process's CPU use as a percent of the whole machine (all cores = 100)
since the previous heartbeat; `memoryUsage` is this process's resident memory as a percent of the
machine's RAM (psutil `memory_percent`). Both describe this node process, not the machine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psutil

from node_agent import INSTANCE_ID, __version__, protocol
from node_agent.backend import BackendClient, Response, backoff_s
from node_agent.config import NodeConfig
from node_agent.error_buffer import ErrorBuffer

log = logging.getLogger(__name__)

WORKER_ID_IN_USE = "worker_id_in_use"


class WorkerIdInUse(Exception):
    """The backend refused the registration: another running process uses this WORKER_ID."""


class Heartbeat:
    """Keep the node registered and alive in the backend's eyes."""

    def __init__(
        self,
        config: NodeConfig,
        health_url: str,
        status_fn: Callable[[], dict[str, Any]],
        engines: list[str],
        running_fn: Callable[[], list[str]] | None = None,
        release_fn: Callable[[list[str]], None] | None = None,
        session_store_fn: Callable[[], str] | None = None,
        stop_fn: Callable[[], None] | None = None,
        errors: ErrorBuffer | None = None,
    ) -> None:
        """`engines` are the engines this node can run; the backend places sessions by them.

        `running_fn` returns the ids of the sessions the node runs; each registration and
        heartbeat sends them, and `release_fn` gets the ids the backend answers are no longer
        this node's (`stopSessions`), to stop them. `session_store_fn` returns the id of the
        node's shared session store ("" for none); it may raise when the store is out of reach,
        and then the node does not register until it can say which store it uses.

        `stop_fn` stops the whole process (from this thread) when a background registration is
        refused with `worker_id_in_use`; without it the heartbeat thread just ends. `refused`
        is set then.

        `errors` keeps the process's unexpected errors; each heartbeat carries them (and puts
        them back when it is not answered 2xx).
        """
        self._errors = errors
        self._stop_fn = stop_fn
        self._running_fn = running_fn
        self._release_fn = release_fn
        self._session_store_fn = session_store_fn
        self._config = config
        self._engines = sorted(engines)
        self._health_url = health_url
        self._status_fn = status_fn
        self._client = BackendClient(config.backend_url, config.backend_auth_token)
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # first call only sets the baseline
        self._cpus = psutil.cpu_count() or 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self.registered = threading.Event()
        self.refused = threading.Event()

    def start(self) -> None:
        """Start registering, then heartbeating, in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waits at most one request's timeout)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=20)
        self._client.close()

    def register_body(self) -> dict[str, Any]:
        """Return the registration body.

        `sessionStore` is the shared session store's id ("" without one): the backend moves
        sessions only between nodes that report the same one. Raises what `session_store_fn`
        raises.
        """
        return protocol.Registration(
            worker_id=self._config.worker_id,
            instance_id=INSTANCE_ID,
            endpoint=self._config.queue,
            max_sessions=self._config.max_sessions,
            engines=self._engines,
            version=__version__,
            health_url=self._health_url,
            session_store=self._session_store_fn() if self._session_store_fn else "",
            running_sessions=self._running(),
        ).to_wire()

    def _register_request(self) -> Response:
        try:
            body = self.register_body()
        except Exception as exc:  # the session store is out of reach: not registering yet
            return Response(status=None, error=f"session store unavailable: {exc}")
        return self._client.request("POST", protocol.REGISTER_PATH, body)

    def _running(self) -> list[str] | None:
        """Return the ids of the running sessions; None (left out of bodies) without running_fn."""
        return self._running_fn() if self._running_fn else None

    def _release_moved(self, answer: Response) -> None:
        moved = (answer.data or {}).get(protocol.STOP_SESSIONS) or []
        if moved and self._release_fn:
            log.warning("sessions moved to other nodes, stopping them here: %s", moved)
            self._release_fn([str(session_id) for session_id in moved])

    @staticmethod
    def _id_in_use(answer: Response) -> bool:
        return answer.status == 409 and answer.code == WORKER_ID_IN_USE

    def register_once(self) -> bool:
        """Try to register once, stopping sessions that moved away; return True on success.

        The node calls it before resuming its sessions, so a copy of a moved session never
        runs again here; when the backend is down, the background registration does it later.
        Raises WorkerIdInUse when another running process uses this WORKER_ID.
        """
        answer = self._register_request()
        if self._id_in_use(answer):
            self.refused.set()
            raise WorkerIdInUse(answer.describe())
        if answer.ok:
            self._release_moved(answer)
        else:
            log.warning("registration failed: %s", answer.describe())
        return answer.ok

    def heartbeat_body(self, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Return a heartbeat body with fresh metrics (and `errors`, when there are any).

        `status` is DRAINING when the node wants a restart (NodeRuntime.status), else ONLINE.
        """
        status = self._status_fn()
        return protocol.Heartbeat(
            status="DRAINING" if status.get("draining") else "ONLINE",
            instance_id=INSTANCE_ID,
            metrics={
                "sessionCount": status["sessions"],
                "cpuUsage": round(self._process.cpu_percent(None) / self._cpus, 2),
                "memoryUsage": round(self._process.memory_percent(), 2),
                "activeConnections": status["connected"],
            },
            running_sessions=self._running(),
            unreachable_engines=status.get("unreachableEngines"),
            errors=errors[: protocol.HEARTBEAT_ERRORS_MAX] if errors else None,
        ).to_wire()

    def _beat(self, path: str) -> Response:
        errors = self._errors.take() if self._errors is not None else []
        answer = self._client.request("PUT", path, self.heartbeat_body(errors))
        if errors and not answer.ok:
            self._errors.put_back(errors)
        return answer

    def _register(self) -> bool:
        """Register, retrying until it succeeds; False when stopped or refused meanwhile."""
        attempt = 0
        while not self._stop.is_set():
            answer = self._register_request()
            if self._id_in_use(answer):
                self._refuse(answer)
                return False
            if answer.ok:
                self._release_moved(answer)
                log.info("registered with the backend as %s", self._config.worker_id)
                self.registered.set()
                return True
            attempt += 1
            delay_s = backoff_s(attempt)
            log.warning("registration failed (%s), retry in %.1f s", answer.describe(), delay_s)
            self._stop.wait(delay_s)
        return False

    def _refuse(self, answer: Response) -> None:
        self.refused.set()
        log.error(
            "another running node already uses WORKER_ID=%s (%s): %s; give each node its own "
            "WORKER_ID",
            self._config.worker_id,
            answer.describe(),
            "stopping this process" if self._stop_fn else "heartbeats stop",
        )
        if self._stop_fn is not None:
            self._stop_fn()

    def _run(self) -> None:
        if not self._register():
            return
        path = protocol.heartbeat_path(self._config.worker_id)
        while not self._stop.wait(self._config.heartbeat_interval_s):
            answer = self._beat(path)
            if answer.status in (404, 409):
                if answer.status == 404:
                    log.warning("backend does not know this node: registering again")
                else:  # another process registered with this WORKER_ID since
                    log.warning("heartbeat refused (%s): registering again", answer.describe())
                self.registered.clear()
                if not self._register():
                    return
            elif not answer.ok:
                log.warning("heartbeat missed: %s", answer.describe())
            else:
                self._release_moved(answer)
