"""Writes for the node registry: registration, heartbeats, nodes added ahead by operators.

What happens to sessions when nodes come, go, drain or die is `workers_app.fleet`; placement is
`workers_app.placement`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from gateway.models import SystemLog, system_log
from node_agent.protocol import node_queue
from workers_app.errors import WorkerAlreadyExists, WorkerIdInUse, WorkerNotFound
from workers_app.models import Worker
from workers_app.probe import node_answers_health

logger = logging.getLogger(__name__)


def _other_instance(worker: Worker | None, instance_id: str) -> str:
    """Return the id of another process that may still run `worker`, else "".

    That is the row's instance id when it is set and not `instance_id`, the node is not
    OFFLINE and its heartbeat is fresh.
    """
    if (
        worker is None
        or not worker.instance_id
        or worker.instance_id == instance_id
        or worker.status == Worker.Status.OFFLINE
        or not worker.heartbeat_fresh
    ):
        return ""
    return worker.instance_id


def worker_register(
    *,
    worker_id: str,
    max_sessions: int,
    engines: list[str],
    version: str = "",
    health_url: str = "",
    session_store: str = "",
    instance_id: str = "",
) -> Worker:
    """Register (or re-register) a node as ONLINE. A node an operator drained stays DRAINING.

    `session_store` is the id of the shared session store the node uses ("" = its own files).
    `instance_id` is the registering process's random id (uuid4 hex, "" from a node that sends
    none). When the row holds another process's id and that process may still run (see
    `_other_instance`), it is asked on its health URL (workers_app.probe): if it answers as
    itself, raises WorkerIdInUse and changes nothing; if not, it is gone (a quick restart) and
    the new process takes over. Safe to repeat: a node registers again on every start and
    whenever a heartbeat is refused.
    """
    current = Worker.objects.filter(id=worker_id).first()
    other = _other_instance(current, instance_id)
    # Asked before the row is locked: a probe may take WORKER_HEALTH_PROBE_TIMEOUT_S.
    if (
        current is not None
        and other
        and node_answers_health(
            worker_id=worker_id,
            health_url=current.health_url,
            timeout_s=settings.WORKER_HEALTH_PROBE_TIMEOUT_S,
            instance_id=other,
        )
    ):
        logger.warning("a second process tried to register as node %s: refused", worker_id)
        system_log(
            event="node.id_in_use",
            level=SystemLog.Level.WARNING,
            message=f"A second node process tried to register as {worker_id} while the "
            "running one answers: refused (two nodes share one WORKER_ID)",
            worker_id=worker_id,
        )
        raise WorkerIdInUse()
    now = timezone.now()
    with transaction.atomic():
        worker = Worker.objects.select_for_update().filter(id=worker_id).first()
        if _other_instance(worker, instance_id) not in ("", other):
            # Yet another process registered after the probe: it was running a moment ago.
            raise WorkerIdInUse()
        created = worker is None
        if created:
            worker = Worker(id=worker_id)
        was_online = worker.status == Worker.Status.ONLINE and not created
        worker.endpoint = node_queue(worker_id)
        worker.max_sessions = max_sessions
        worker.engines = sorted(set(engines))
        worker.version = version
        worker.health_url = health_url
        worker.session_store = session_store
        worker.instance_id = instance_id
        worker.last_heartbeat = now
        if worker.drain_requested_by == "operator":
            # An operator's drain lasts until undone, through restarts and outages.
            worker.status = Worker.Status.DRAINING
        else:
            worker.status = Worker.Status.ONLINE
            worker.drain_requested_by = ""
        worker.save()
    if not was_online:
        system_log(
            event="node.registered",
            message=f"Node {worker_id} registered ({', '.join(worker.engines)})",
            worker_id=worker_id,
        )
    return worker


def worker_heartbeat(
    *,
    worker_id: str,
    metrics: dict[str, Any],
    draining: bool = False,
    instance_id: str = "",
    errors: list[dict[str, Any]] = (),
    unreachable_engines: list[str] | None = None,
) -> Worker:
    """Record a heartbeat with the node's metrics.

    `metrics`: `sessionCount`, `activeConnections` (ints), `cpuUsage`, `memoryUsage` (percent).
    A node marked OFFLINE comes back ONLINE with its next heartbeat (DRAINING if an operator
    drained it); `draining` (the node asks for it, e.g. before it must be restarted) marks it
    DRAINING until its next registration. `instance_id` ("" = not sent) is the sending
    process's id: from another process than the one that registered last, nothing is recorded
    and WorkerIdInUse is raised (the sender registers again, see `worker_register`). Raises
    WorkerNotFound for an unknown node. Each of `errors` (the node's unexpected errors, shaped
    as node_agent.protocol.Heartbeat says) becomes a `node.error` entry in the System log.
    `unreachable_engines` (None: not reported, kept) names engines whose network the node cannot
    reach (see `engines_reachable`).
    """
    worker = Worker.objects.filter(id=worker_id).first()
    if worker is None:
        raise WorkerNotFound()
    if instance_id and worker.instance_id and worker.instance_id != instance_id:
        raise WorkerIdInUse()
    came_back = worker.status == Worker.Status.OFFLINE and not draining
    starts_draining = draining and worker.status != Worker.Status.DRAINING
    worker.last_heartbeat = timezone.now()
    worker.session_count = int(metrics.get("sessionCount", worker.session_count))
    worker.active_connections = int(metrics.get("activeConnections", worker.active_connections))
    worker.cpu_usage = float(metrics.get("cpuUsage", worker.cpu_usage))
    worker.memory_usage = float(metrics.get("memoryUsage", worker.memory_usage))
    if unreachable_engines is not None:
        worker.unreachable_engines = sorted(set(unreachable_engines))
    if came_back:
        operator_drain = worker.drain_requested_by == "operator"
        worker.status = Worker.Status.DRAINING if operator_drain else Worker.Status.ONLINE
    if starts_draining:
        worker.status = Worker.Status.DRAINING
        worker.drain_requested_by = "node"
    worker.save(
        update_fields=[
            "last_heartbeat",
            "session_count",
            "active_connections",
            "cpu_usage",
            "memory_usage",
            "unreachable_engines",
            "status",
            "drain_requested_by",
        ]
    )
    if came_back:
        system_log(event="node.online", message=f"Node {worker_id} is back", worker_id=worker_id)
    if starts_draining:
        system_log(
            event="node.draining",
            level=SystemLog.Level.WARNING,
            message=f"Node {worker_id} asked to drain",
            worker_id=worker_id,
        )
    if errors:
        SystemLog.objects.bulk_create([_node_error(worker_id, error) for error in errors])
    return worker


def _node_error(worker_id: str, error: dict[str, Any]) -> SystemLog:
    cause = f": {error['error']}" if error.get("error") else ""
    where = f" at {error['where']}" if error.get("where") else ""
    return SystemLog(
        level=SystemLog.Level.ERROR,
        event="node.error",
        message=f"Node {worker_id}: {error['message']}{cause}{where}"[:500],
        worker_id=worker_id,
        data={**error, "at": error["at"].isoformat()},
    )


def worker_create(*, worker_id: str, max_sessions: int, engines: list[str]) -> Worker:
    """Register a node ahead of its first start (an operator does): OFFLINE, no heartbeat yet.

    The node's own registration later makes it ONLINE with what it reports. Raises
    WorkerAlreadyExists.
    """
    try:
        with transaction.atomic():
            worker = Worker.objects.create(
                id=worker_id,
                endpoint=node_queue(worker_id),
                status=Worker.Status.OFFLINE,
                max_sessions=max_sessions,
                engines=sorted(set(engines)),
            )
    except IntegrityError as exc:
        raise WorkerAlreadyExists() from exc
    system_log(
        event="node.created",
        message=f"Node {worker_id} added by an operator; waiting for it to register",
        worker_id=worker_id,
    )
    return worker
