"""Run one node: `python -m node_agent` (configuration from environment variables).

Order: config, runtime (SQLite, engines, outbox sender), health server, registration, restore
sessions (see start_sessions), heartbeat thread, the hourly usage report (usage.py), then the
Celery worker in this thread. SIGTERM or SIGINT makes Celery finish its running tasks; then
engines stop and the outbox gets a short flush.

Exit code 2 when the node cannot run: a bad configuration, a health port in use, or another
running process with the same WORKER_ID (the backend refuses the registration with 409
`worker_id_in_use`). Refused at start, the node exits before consuming anything and leaves its
sessions alone; refused later (the other process registered meanwhile), it stops as on SIGTERM.

neonize (the WhatsApp engine) is imported lazily, on the first WhatsApp session start, and only
in this process; what it reads at import (NEONIZE_BOT_TAG, its log level) is set first thing.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading

from node_agent import __version__
from node_agent.celery_app import create_celery_app, worker_argv
from node_agent.config import ConfigError, NodeConfig
from node_agent.engines.whatsapp.ffi import prepare_environment
from node_agent.error_buffer import ErrorBuffer
from node_agent.health import HealthServer
from node_agent.heartbeat import Heartbeat, WorkerIdInUse
from node_agent.metrics import NodeCollector, NodeMetrics
from node_agent.runtime import NodeRuntime
from node_agent.tasks import bind_runtime
from node_agent.usage import UsageReporter

log = logging.getLogger("node_agent")


def health_url(host: str, port: int) -> str:
    """Return the URL the backend can probe; a wildcard bind is reported by host name."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/health"


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _terminate() -> None:
    """Stop this process as SIGTERM does (from any thread): Celery's handler, or _raise_exit."""
    os.kill(os.getpid(), signal.SIGTERM)


def start_sessions(runtime: NodeRuntime, heartbeat: Heartbeat) -> bool:
    """Register, resume the node's sessions and start heartbeating; True if resumed at once.

    Registration comes first: its answer stops the copies of sessions that moved while this
    node was away. If the backend cannot be reached, a node without a shared session store
    resumes its sessions anyway (nothing else can run them). With one, a session may be running
    on another node by now, so its sessions wait until the background registration succeeds;
    the outbox starts at once either way. Raises WorkerIdInUse (nothing started) when another
    running process uses this WORKER_ID.
    """
    registered = heartbeat.register_once()
    wait = not registered and runtime.shared is not None
    runtime.start(restore_after=heartbeat.registered if wait else None)
    heartbeat.start()
    return not wait


USAGE = """usage: python -m node_agent   (no arguments; configured by environment variables)

Needs WORKER_ID (this node's id and queue, node.<WORKER_ID>), BACKEND_URL, BACKEND_AUTH_TOKEN
(the node's own credential: manage.py issue_node_credential --worker-id <WORKER_ID>, or Node
credentials in Django admin) and CELERY_BROKER_URL; every variable, with its default, is in
.env.example. Serves GET /health (and /metrics) on WORKER_HOST:WORKER_PORT."""


def main() -> int:
    """Run the node until it is told to stop; return the process exit code (0 after --help)."""
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(USAGE)
        return 0
    if sys.argv[1:]:  # settings come from the environment only: an argument is a mistake
        print(f"unknown argument {sys.argv[1]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Celery logs each task's return value at INFO ("succeeded in …: <value>"); a history
    # answer holds message texts, which a node must not write to its log.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    try:
        config = NodeConfig.from_env()
    except ConfigError as exc:
        log.error("bad configuration: %s", exc)
        return 2
    prepare_environment(config.neonize_log_level)  # before neonize can be imported
    log.info(
        "node %s starting: queue %s, backend %s", config.worker_id, config.queue, config.backend_url
    )
    metrics = NodeMetrics(
        NodeCollector(
            lambda: runtime.status(),
            lambda: runtime.engines,
            worker_id=config.worker_id,
            version=__version__,
        ),
        token=config.metrics_token,
        networks=config.metrics_networks,
    )
    try:
        health = HealthServer(
            config.worker_host, config.worker_port, lambda: runtime.health(), metrics
        )
    except OSError as exc:
        log.error("cannot serve health on %s:%s: %s", config.worker_host, config.worker_port, exc)
        return 2
    # Until Celery installs its own handlers, SIGTERM/SIGINT unwind through `finally` below.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_exit)
    runtime = NodeRuntime(config)
    errors = ErrorBuffer()  # unexpected errors, to the System log with the next heartbeat
    logging.getLogger().addHandler(errors)
    heartbeat = Heartbeat(
        config,
        health_url(config.worker_host, health.port),
        runtime.status,
        engines=list(runtime.engines),
        running_fn=runtime.running_session_ids,
        release_fn=runtime.sessions_release,
        session_store_fn=runtime.session_store_id,
        stop_fn=_terminate,
        errors=errors,
    )
    usage = UsageReporter(
        runtime.db, runtime.outbox.wake, config.worker_id, config.usage_report_interval_s
    )
    app = create_celery_app(config)
    bind_runtime(runtime)
    health.start()
    log.info("health on %s", health_url(config.worker_host, health.port))
    refused_at_start = False
    try:
        start_sessions(runtime, heartbeat)
        usage.start()
        app.worker_main(worker_argv(config))
    except WorkerIdInUse as exc:
        refused_at_start = True
        log.error(
            "another running node already uses WORKER_ID=%s (%s): not starting; give each "
            "node its own WORKER_ID",
            config.worker_id,
            exc,
        )
    except SystemExit as exc:
        log.info("exit requested (code %s)", exc.code)
    finally:
        log.info("node %s stopping", config.worker_id)
        heartbeat.stop()
        usage.stop()  # before the runtime closes the database
        if refused_at_start:  # nothing started, and its sessions may be the other process's
            runtime.shutdown(flush_timeout_s=0, report=False)
        else:
            runtime.shutdown()
        health.stop()
        bind_runtime(None)
        log.info("node %s stopped", config.worker_id)
    code = 2 if heartbeat.refused.is_set() else 0
    _exit_if_stuck(code)
    return code


def _exit_if_stuck(code: int) -> None:
    """Exit at once with `code` if a non-daemon thread outlived shutdown.

    neonize's connect worker stuck in a dial (neonize 0.5.2, measured) would hold the interpreter
    at exit.
    """
    stuck = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and not t.daemon
    ]
    if stuck:
        log.warning("threads still running after shutdown (%s): exiting now", ", ".join(stuck))
        logging.shutdown()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
