"""Broker settings shared by the backend and the node agents.

Both sides must agree on how the broker is reached, so this module is the one place that turns a
broker URL into Celery settings. It imports neither Django nor neonize: the backend imports it from
`gateway/settings.py`, the node agent from its own Celery app.
"""

from __future__ import annotations

import os
from typing import Any

from celery import bootsteps
from celery.concurrency.thread import TaskPool as ThreadTaskPool

# kombu's Redis transport with one client per channel (redis_transport.py), for the backend's
# publishes and the node's consumer alike.
REDIS_TRANSPORT = "node_agent.redis_transport:Transport"
BROKER_CONNECT_RETRIES = 2
BROKER_CONNECT_TIMEOUT_S = 2.0
# The embedded default's broker and result store (embedded_broker.py), named for Celery to load.
EMBEDDED_TRANSPORT = "node_agent.embedded_broker:Transport"
EMBEDDED_RESULTS = "node_agent.embedded_broker:ResultFiles"


def broker_settings(
    broker_url: str,
    *,
    folder: str,
    visibility_timeout_s: int = 600,
    polling_interval_s: float = 0.05,
    key_prefix: str = "",
) -> dict[str, Any]:
    """Return Celery settings (lower-case keys) for `broker_url`.

    `filesystem://` (the embedded default) keeps messages as files under `folder` through the
    embedded broker (`embedded_broker.py`, safe with several processes); the backend and every
    node agent on the machine must name the same folder. For Redis, unacknowledged tasks
    come back after `visibility_timeout_s` seconds (Celery's default is one hour), which bounds how
    long a task held by a killed node waits before another consumer gets it; `key_prefix`
    namespaces every Redis key, so several deployments (or test runs) can share one Redis.
    """
    options: dict[str, Any]
    transport: dict[str, str] = {}
    if broker_url.startswith("redis://"):  # not rediss:// or sentinel: as kombu names them
        transport = {"broker_transport": REDIS_TRANSPORT}
    if broker_url.startswith("filesystem:"):
        transport = {"broker_transport": EMBEDDED_TRANSPORT}
        queue_dir = os.path.join(folder, "queue")
        control_dir = os.path.join(folder, "control")
        for path in (queue_dir, control_dir):
            os.makedirs(path, exist_ok=True)
        options = {
            "data_folder_in": queue_dir,
            "data_folder_out": queue_dir,
            "control_folder": control_dir,
            "store_processed": False,
            "polling_interval": polling_interval_s,
        }
    else:
        options = {
            "visibility_timeout": visibility_timeout_s,
            # kombu retries a lost connection forever by default, so a publish made while Redis
            # is down would hang its web request; give up after ~1 s instead (the message stays
            # `queued` in the ledger and the sweeper publishes it again). Celery's consumers
            # reconnect by their own loop whatever these say.
            "max_retries": BROKER_CONNECT_RETRIES,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
            "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_S,
        }
        if key_prefix:
            options["global_keyprefix"] = key_prefix
    return {
        "broker_url": broker_url,
        **transport,
        "broker_transport_options": options,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_create_missing_queues": True,
    }


def result_backend_url(url: str) -> str:
    """Return the Celery result backend for `url`: a `file://` folder (created) goes through
    the embedded result store, which never shows a half-written answer; others as they are."""
    if not url.startswith("file://"):
        return url
    os.makedirs(url.removeprefix("file://"), exist_ok=True)
    return f"{EMBEDDED_RESULTS}+{url}"


ACK_WAKEUP_INTERVAL_S = 0.05


class AckWakeup(bootsteps.StartStopStep):
    """Make a thread-pool worker acknowledge finished tasks within ACK_WAKEUP_INTERVAL_S.

    With `-P threads`, Celery applies a finished task's acknowledgement (and so fetches the next
    message, since prefetch is bounded) only when its event loop next wakes, which on an idle
    broker socket is after up to ~5 s (celery/celery#6941): a burst of 500 sends then trickled in
    at 1-2 messages/s. A no-op timer on the loop bounds that wait.

    A consumer bootstep, not a `worker_ready` handler: the consumer clears its timer whenever
    the broker connection is lost (Consumer.on_close), and steps start again on every
    reconnection, so the timer comes back after a broker restart too.
    """

    requires = ("celery.worker.consumer.connection:Connection",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        """Install the timer if the pool is a thread pool (called on every consumer start)."""
        if isinstance(getattr(parent, "pool", None), ThreadTaskPool) and parent.timer:
            self.tref = parent.timer.call_repeatedly(ACK_WAKEUP_INTERVAL_S, _noop)

    def stop(self, parent: Any) -> None:
        """Cancel the timer (the consumer is stopping or reconnecting)."""
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop


def _noop() -> None:
    return None


def install_ack_wakeup(app: Any) -> None:
    """Add the AckWakeup step to `app`'s consumer blueprint (idempotent)."""
    app.steps["consumer"].add(AckWakeup)
