"""Writes for the node registry: registration, heartbeats, placement, health, operator actions.

Moving sessions between nodes is `sessions_app.migration`; drain, removal and the health sweep
call it. sessions_app's services import this module (placement), so those imports wait until
the function that needs them runs.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from gateway.errors import Conflict, NotFound, ServiceUnavailable
from gateway.models import SystemLog, system_log
from node_agent.protocol import node_queue
from workers_app.models import Worker
from workers_app.probe import node_answers_health

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sessions_app.migration import Evacuation


class NoWorkerAvailable(ServiceUnavailable):
    code = "no_worker_available"
    message = "No node can take this session right now. Try again later."


class WorkerNotFound(NotFound):
    code = "worker_not_found"
    message = "Node not found."


class WorkerAlreadyExists(Conflict):
    code = "worker_already_exists"
    message = "A node with this id is already registered."


class WorkerIdInUse(Conflict):
    code = "worker_id_in_use"
    message = "Another running node already uses this WORKER_ID. Give each node its own WORKER_ID."


def heartbeat_deadline() -> timedelta:
    """Return how long a node may stay silent before it counts as offline (3 missed beats)."""
    return timedelta(seconds=settings.WORKER_HEARTBEAT_INTERVAL * settings.WORKER_MISSED_HEARTBEATS)


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
        or worker.last_heartbeat is None
        or worker.last_heartbeat < timezone.now() - heartbeat_deadline()
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

    `session_store` is the id of the shared credential store the node uses ("" = its own).
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
    *, worker_id: str, metrics: dict[str, Any], draining: bool = False, instance_id: str = ""
) -> Worker:
    """Record a heartbeat with the node's metrics.

    `metrics`: `sessionCount`, `activeConnections` (ints), `cpuUsage`, `memoryUsage` (percent).
    A node marked OFFLINE comes back ONLINE with its next heartbeat (DRAINING if an operator
    drained it); `draining` (the node asks for it, e.g. before it must be restarted) marks it
    DRAINING until its next registration. `instance_id` ("" = not sent) is the sending
    process's id: from another process than the one that registered last, nothing is recorded
    and WorkerIdInUse is raised (the sender registers again, see `worker_register`). Raises
    WorkerNotFound for an unknown node.
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


def worker_pick(*, engine: str, store: str | None = None, exclude: Collection[str] = ()) -> Worker:
    """Choose the node for a session: ONLINE, fresh heartbeat, has `engine`, most free room.

    `store`, when given, keeps only the nodes whose `session_store` it is (a moving session's
    login is there); `exclude` lists node ids never to choose (the node a session leaves).
    Free room is assigned sessions over `max_sessions` (the database's count, not the last
    heartbeat's, so a burst of connects spreads out), then CPU, then memory. The chosen row is
    locked until the caller's transaction ends. Raises NoWorkerAvailable.
    """
    fresh_since = timezone.now() - heartbeat_deadline()
    candidates = Worker.objects.filter(
        status=Worker.Status.ONLINE, last_heartbeat__gte=fresh_since
    ).exclude(id__in=list(exclude))
    if store is not None:
        candidates = candidates.filter(session_store=store)
    candidates = candidates.annotate(assigned=Count("sessions")).order_by("id")
    usable = [w for w in candidates if engine in w.engines and w.assigned < w.max_sessions]
    if not usable:
        raise NoWorkerAvailable()
    usable.sort(key=lambda w: (w.assigned / max(w.max_sessions, 1), w.cpu_usage, w.memory_usage))
    return Worker.objects.select_for_update().get(id=usable[0].id)


def workers_mark_offline() -> list[str]:
    """Mark OFFLINE every ONLINE or DRAINING node whose heartbeat is older than the deadline.

    A node that still answers its own health URL is not marked (see workers_app.probe): its
    heartbeats are lost on the way, most likely because the backend's web process is down.
    The sessions of each node marked that can move (connected, login in a shared store that an
    ONLINE node also uses) move there and resume without a scan (`sessions_app.migration`); its
    other connected and starting sessions become DISCONNECTED (`node_lost`), see
    `sessions_app.recovery.sessions_mark_node_lost`. Returns the ids marked. Safe to run any
    number of times (Celery beat runs it).
    """
    from sessions_app.migration import handovers_complete, sessions_move_away
    from sessions_app.recovery import sessions_mark_node_lost

    stale_before = timezone.now() - heartbeat_deadline()
    stale = Worker.objects.filter(
        status__in=[Worker.Status.ONLINE, Worker.Status.DRAINING],
        last_heartbeat__lt=stale_before,
    ).values_list("id", "health_url")
    marked = []
    for worker_id, health_url in list(stale):
        if node_answers_health(
            worker_id=worker_id,
            health_url=health_url,
            timeout_s=settings.WORKER_HEALTH_PROBE_TIMEOUT_S,
        ):
            # Alive, yet its heartbeats do not arrive: the backend's web side (or the way to it)
            # is down, not the node. Moving its sessions would only double them.
            logger.warning("node %s missed heartbeats but answers its health URL", worker_id)
            continue
        # One transaction per node: its sessions are never left on a node already OFFLINE.
        with transaction.atomic():
            changed = Worker.objects.filter(
                id=worker_id,
                last_heartbeat__lt=stale_before,
                status__in=[Worker.Status.ONLINE, Worker.Status.DRAINING],
            ).update(status=Worker.Status.OFFLINE)
            if not changed:
                continue
            marked.append(worker_id)
            system_log(
                event="node.offline",
                level=SystemLog.Level.WARNING,
                message=f"Node {worker_id} missed {settings.WORKER_MISSED_HEARTBEATS} heartbeats",
                worker_id=worker_id,
            )
            sessions_move_away(worker_id=worker_id, source_alive=False)
            handovers_complete(dead_worker_id=worker_id)
            sessions_mark_node_lost(worker_id=worker_id)
    return marked


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


def worker_drain(*, worker_id: str) -> tuple[Worker, Evacuation]:
    """Drain a node: it takes no new sessions, and its sessions that can move go to other nodes.

    The node becomes DRAINING until `worker_undrain` (an OFFLINE node stays OFFLINE and comes
    back DRAINING). Its connected sessions whose login is in a shared store go to ONLINE nodes
    of that store, each handed over (this node stops it, then the target starts it); the others
    stay here (those still linking finish here) and the system log says how many. Safe to
    repeat: a repeat moves what can move now. Raises WorkerNotFound.
    """
    from sessions_app.migration import sessions_move_away

    with transaction.atomic():
        worker = Worker.objects.select_for_update().filter(id=worker_id).first()
        if worker is None:
            raise WorkerNotFound()
        alive = worker.status != Worker.Status.OFFLINE
        if alive:
            worker.status = Worker.Status.DRAINING
        worker.drain_requested_by = "operator"
        worker.save(update_fields=["status", "drain_requested_by"])
    evacuation = sessions_move_away(worker_id=worker_id, source_alive=alive)
    system_log(
        event="node.draining",
        message=f"Node {worker_id} draining: {len(evacuation.moved)} sessions moved, "
        f"{evacuation.stayed} could not move",
        worker_id=worker_id,
        moved=len(evacuation.moved),
        stayed=evacuation.stayed,
    )
    return worker, evacuation


def worker_undrain(*, worker_id: str) -> Worker:
    """Undo a drain: a DRAINING node is ONLINE again and takes new sessions.

    An OFFLINE node stays OFFLINE (its drain is forgotten, so it comes back ONLINE). Moved
    sessions stay where they went (see `workers_rebalance`). Safe to repeat. Raises
    WorkerNotFound.
    """
    with transaction.atomic():
        worker = Worker.objects.select_for_update().filter(id=worker_id).first()
        if worker is None:
            raise WorkerNotFound()
        was_draining = worker.status == Worker.Status.DRAINING
        if was_draining:
            worker.status = Worker.Status.ONLINE
        worker.drain_requested_by = ""
        worker.save(update_fields=["status", "drain_requested_by"])
    if was_draining:
        system_log(
            event="node.undrained", message=f"Node {worker_id} back in service", worker_id=worker_id
        )
    return worker


def worker_remove(*, worker_id: str) -> Evacuation:
    """Remove a node from the registry after moving its sessions away.

    Its sessions that can move go to ONLINE nodes of their store (handed over if the node is
    not OFFLINE, else started there directly); its other connected and starting sessions
    become DISCONNECTED (`node_removed`; `stayed` counts them); every session of the node then
    has no node. Raises WorkerNotFound.
    """
    from sessions_app.migration import Evacuation, sessions_move_away
    from sessions_app.recovery import sessions_mark_node_lost

    worker = Worker.objects.filter(id=worker_id).first()
    if worker is None:
        raise WorkerNotFound()
    with transaction.atomic():
        evacuation = sessions_move_away(
            worker_id=worker_id, source_alive=worker.status != Worker.Status.OFFLINE
        )
        ended = sessions_mark_node_lost(worker_id=worker_id, reason="node_removed")
        deleted, _ = Worker.objects.filter(id=worker_id).delete()
        if not deleted:  # removed meanwhile by another request: undo the moves
            raise WorkerNotFound()
    system_log(
        event="node.removed",
        message=f"Node {worker_id} removed: {len(evacuation.moved)} sessions moved, "
        f"{ended} disconnected",
        worker_id=worker_id,
        moved=len(evacuation.moved),
        disconnected=ended,
    )
    return Evacuation(moved=evacuation.moved, stayed=ended)
