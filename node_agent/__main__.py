"""Run one node: `python -m node_agent` (configuration from environment variables).

Order: config, runtime (SQLite, engines, outbox sender), health server, restore sessions,
registration + heartbeat thread, then the Celery worker in this thread. SIGTERM or SIGINT makes
Celery finish its running tasks; then engines stop and the outbox gets a short flush.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys

from node_agent.celery_app import create_celery_app, worker_argv
from node_agent.config import ConfigError, NodeConfig
from node_agent.health import HealthServer
from node_agent.heartbeat import Heartbeat
from node_agent.runtime import NodeRuntime
from node_agent.tasks import bind_runtime

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


def main() -> int:
    """Run the node until it is told to stop; return the process exit code."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = NodeConfig.from_env()
    except ConfigError as exc:
        log.error("bad configuration: %s", exc)
        return 2
    log.info(
        "node %s starting: queue %s, backend %s", config.worker_id, config.queue, config.backend_url
    )
    try:
        health = HealthServer(config.worker_host, config.worker_port, lambda: runtime.health())
    except OSError as exc:
        log.error("cannot serve health on %s:%s: %s", config.worker_host, config.worker_port, exc)
        return 2
    # Until Celery installs its own handlers, SIGTERM/SIGINT unwind through `finally` below.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_exit)
    runtime = NodeRuntime(config)
    heartbeat = Heartbeat(
        config,
        health_url(config.worker_host, health.port),
        runtime.status,
        engines=list(runtime.engines),
    )
    app = create_celery_app(config)
    bind_runtime(runtime)
    health.start()
    log.info("health on %s", health_url(config.worker_host, health.port))
    try:
        runtime.start()
        heartbeat.start()
        app.worker_main(worker_argv(config))
    except SystemExit as exc:
        log.info("exit requested (code %s)", exc.code)
    finally:
        log.info("node %s stopping", config.worker_id)
        heartbeat.stop()
        runtime.shutdown()
        health.stop()
        bind_runtime(None)
        log.info("node %s stopped", config.worker_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
