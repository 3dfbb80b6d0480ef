"""Writes for the node registry: registration, heartbeats, placement, health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from gateway.errors import NotFound, ServiceUnavailable
from gateway.models import SystemLog, system_log
from node_agent.broker import node_queue
from workers_app.models import Worker


class NoWorkerAvailable(ServiceUnavailable):
    code = "no_worker_available"
    message = "No node can take this session right now. Try again later."


class WorkerNotFound(NotFound):
    code = "worker_not_found"
    message = "Node not found."


def heartbeat_deadline() -> timedelta:
    """Return how long a node may stay silent before it counts as offline (3 missed beats)."""
    return timedelta(seconds=settings.WORKER_HEARTBEAT_INTERVAL * settings.WORKER_MISSED_HEARTBEATS)


def worker_register(
    *,
    worker_id: str,
    max_sessions: int,
    engines: list[str],
    version: str = "",
    health_url: str = "",
) -> Worker:
    """Register (or re-register) a node as ONLINE. A node an operator drained stays DRAINING.

    Safe to repeat: a node registers again on every start and whenever a heartbeat is refused.
    """
    now = timezone.now()
    with transaction.atomic():
        worker = Worker.objects.select_for_update().filter(id=worker_id).first()
        created = worker is None
        if created:
            worker = Worker(id=worker_id)
        was_online = worker.status == Worker.Status.ONLINE and not created
        worker.endpoint = node_queue(worker_id)
        worker.max_sessions = max_sessions
        worker.engines = sorted(set(engines))
        worker.version = version
        worker.health_url = health_url
        worker.last_heartbeat = now
        if worker.status != Worker.Status.DRAINING or worker.drain_requested_by == "node":
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


def worker_heartbeat(*, worker_id: str, metrics: dict[str, Any], draining: bool = False) -> Worker:
    """Record a heartbeat with the node's metrics. Raises WorkerNotFound for an unknown node.

    `metrics`: `sessionCount`, `activeConnections` (ints), `cpuUsage`, `memoryUsage` (percent).
    A node marked OFFLINE comes back ONLINE with its next heartbeat; `draining` (the node asks
    for it, e.g. before it must be restarted) marks it DRAINING until its next registration.
    """
    worker = Worker.objects.filter(id=worker_id).first()
    if worker is None:
        raise WorkerNotFound()
    came_back = worker.status == Worker.Status.OFFLINE and not draining
    starts_draining = draining and worker.status != Worker.Status.DRAINING
    worker.last_heartbeat = timezone.now()
    worker.session_count = int(metrics.get("sessionCount", worker.session_count))
    worker.active_connections = int(metrics.get("activeConnections", worker.active_connections))
    worker.cpu_usage = float(metrics.get("cpuUsage", worker.cpu_usage))
    worker.memory_usage = float(metrics.get("memoryUsage", worker.memory_usage))
    if came_back:
        worker.status = Worker.Status.ONLINE
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
    return worker


def worker_pick(*, engine: str) -> Worker:
    """Choose the node for a new session: ONLINE, fresh heartbeat, has `engine`, most free room.

    Free room is assigned sessions over `max_sessions` (the database's count, not the last
    heartbeat's, so a burst of connects spreads out), then CPU, then memory. The chosen row is
    locked until the caller's transaction ends. Raises NoWorkerAvailable.
    """
    fresh_since = timezone.now() - heartbeat_deadline()
    candidates = (
        Worker.objects.filter(status=Worker.Status.ONLINE, last_heartbeat__gte=fresh_since)
        .annotate(assigned=Count("sessions"))
        .order_by("id")
    )
    usable = [w for w in candidates if engine in w.engines and w.assigned < w.max_sessions]
    if not usable:
        raise NoWorkerAvailable()
    usable.sort(key=lambda w: (w.assigned / max(w.max_sessions, 1), w.cpu_usage, w.memory_usage))
    return Worker.objects.select_for_update().get(id=usable[0].id)


def workers_mark_offline() -> list[str]:
    """Mark OFFLINE every ONLINE or DRAINING node whose heartbeat is older than the deadline.

    The connected and starting sessions of each node marked become DISCONNECTED (`node_lost`),
    see `sessions_app.recovery.sessions_mark_node_lost`. Returns the ids marked. Safe to run any
    number of times (Celery beat runs it).
    """
    # sessions_app's services import this module (placement), so this import waits until here.
    from sessions_app.recovery import sessions_mark_node_lost

    stale_before = timezone.now() - heartbeat_deadline()
    stale = list(
        Worker.objects.filter(
            status__in=[Worker.Status.ONLINE, Worker.Status.DRAINING],
            last_heartbeat__lt=stale_before,
        ).values_list("id", flat=True)
    )
    marked = []
    for worker_id in stale:
        changed = Worker.objects.filter(
            id=worker_id,
            last_heartbeat__lt=stale_before,
            status__in=[Worker.Status.ONLINE, Worker.Status.DRAINING],
        ).update(status=Worker.Status.OFFLINE)
        if changed:
            marked.append(worker_id)
            system_log(
                event="node.offline",
                level=SystemLog.Level.WARNING,
                message=f"Node {worker_id} missed {settings.WORKER_MISSED_HEARTBEATS} heartbeats",
                worker_id=worker_id,
            )
            sessions_mark_node_lost(worker_id=worker_id)
    return marked


def worker_drain(*, worker_id: str) -> Worker:
    """Mark a node DRAINING: it keeps its sessions but takes no new ones. Raises WorkerNotFound."""
    drained = Worker.objects.filter(id=worker_id).update(
        status=Worker.Status.DRAINING, drain_requested_by="operator"
    )
    if not drained:
        raise WorkerNotFound()
    system_log(event="node.draining", message=f"Node {worker_id} draining", worker_id=worker_id)
    return Worker.objects.get(id=worker_id)


def worker_remove(*, worker_id: str) -> None:
    """Remove a node from the registry; its sessions lose their node. Raises WorkerNotFound."""
    deleted, _ = Worker.objects.filter(id=worker_id).delete()
    if not deleted:
        raise WorkerNotFound()
    system_log(event="node.removed", message=f"Node {worker_id} removed", worker_id=worker_id)
