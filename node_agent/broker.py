"""Broker settings shared by the backend and the node agents.

Both sides must agree on how the broker is reached, so this module is the one place that turns a
broker URL into Celery settings. It imports neither Django nor neonize: the backend imports it from
`gateway/settings.py`, the node agent from its own Celery app.
"""

from __future__ import annotations

import os
from typing import Any

NODE_QUEUE_PREFIX = "node."


def node_queue(worker_id: str) -> str:
    """Return the Celery queue a node consumes: `node.<workerId>`."""
    return f"{NODE_QUEUE_PREFIX}{worker_id}"


BROKER_CONNECT_RETRIES = 2
BROKER_CONNECT_TIMEOUT_S = 2.0


def broker_settings(
    broker_url: str,
    *,
    folder: str,
    visibility_timeout_s: int = 600,
    polling_interval_s: float = 0.05,
    key_prefix: str = "",
) -> dict[str, Any]:
    """Return Celery settings (lower-case keys) for `broker_url`.

    `filesystem://` (the embedded default) keeps messages as files under `folder`; both the backend
    and every node agent on the machine must name the same folder. For Redis, unacknowledged tasks
    come back after `visibility_timeout_s` seconds (Celery's default is one hour), which bounds how
    long a task held by a killed node waits before another consumer gets it; `key_prefix`
    namespaces every Redis key, so several deployments (or test runs) can share one Redis.
    """
    options: dict[str, Any]
    if broker_url.startswith("filesystem:"):
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


ACK_WAKEUP_INTERVAL_S = 0.05


def wake_event_loop_for_acks(sender: Any, **_: Any) -> None:
    """Make a thread-pool worker acknowledge finished tasks within ACK_WAKEUP_INTERVAL_S.

    With `-P threads`, Celery applies a finished task's acknowledgement (and so fetches the next
    message, since prefetch is bounded) only when its event loop next wakes, which on an idle
    broker socket is after up to ~5 s (celery/celery#6941): a burst of 500 sends then trickled in
    at 1–2 messages/s. A no-op timer on the loop bounds that wait. Connect it to the
    `worker_ready` signal (its sender is the worker's Consumer).
    """
    from celery.concurrency.thread import TaskPool as ThreadTaskPool

    if isinstance(getattr(sender, "pool", None), ThreadTaskPool):
        sender.timer.call_repeatedly(ACK_WAKEUP_INTERVAL_S, _noop)


def _noop() -> None:
    return None


def install_ack_wakeup() -> None:
    """Connect `wake_event_loop_for_acks` to `worker_ready` (once per process)."""
    from celery.signals import worker_ready

    worker_ready.connect(wake_event_loop_for_acks, weak=False, dispatch_uid="ack-wakeup")
