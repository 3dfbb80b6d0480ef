"""The node's Celery app: consumes only `node.<workerId>`, with a thread pool (never prefork)."""

from __future__ import annotations

import logging

from celery import Celery

import node_agent.tasks  # noqa: F401 (defines the node's shared tasks, which every app gets)
from node_agent.broker import (
    REDIS_TRANSPORT,  # noqa: F401 (named here too: the node's transport for redis:// brokers)
    broker_settings,
    install_ack_wakeup,
    result_backend_url,
)
from node_agent.config import NodeConfig


def create_celery_app(config: NodeConfig) -> Celery:
    """Return a Celery app configured for this node's broker and queue, tasks registered."""
    # fixups=[]: Celery's Django fixup would import the backend's settings whenever
    # DJANGO_SETTINGS_MODULE is in the environment (a shared .env), and the node imports no Django.
    app = Celery("node_agent", set_as_current=True, fixups=[])
    app.conf.update(
        broker_settings(
            config.celery_broker_url,
            folder=config.celery_broker_folder,
            visibility_timeout_s=config.celery_visibility_timeout_s,
            key_prefix=config.celery_broker_key_prefix,
        )
    )
    result_backend = result_backend_url(config.celery_result_backend) or None
    app.conf.update(
        result_backend=result_backend,
        result_expires=300,
        result_backend_transport_options=(
            {"global_keyprefix": config.celery_broker_key_prefix}
            if config.celery_broker_key_prefix
            else {}
        ),
        task_default_queue=config.queue,
        # Only the RPC tasks (messages_list, check_number) store a result; they say so.
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        # The filesystem broker has no broadcast worth using; nodes never talk to each other.
        worker_enable_remote_control=False,
        worker_send_task_events=False,
    )
    install_ack_wakeup(app)
    # A line per task at INFO ("Task … received"; "succeeded" is silenced in __main__) costs
    # more than the task itself at a few hundred sends a second.
    logging.getLogger("celery.worker.strategy").setLevel(logging.WARNING)
    return app


def worker_argv(config: NodeConfig) -> list[str]:
    """Return the `celery worker` arguments for this node (thread pool, its queue only)."""
    return [
        "worker",
        "--pool=threads",
        f"--concurrency={config.concurrency}",
        f"--queues={config.queue}",
        f"--hostname={config.worker_id}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    ]
