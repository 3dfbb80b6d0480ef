"""The health sweep: nodes that stopped heartbeating are checked, marked OFFLINE, emptied."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gateway.models import SystemLog, system_log
from workers_app.fleet.moves import handovers_complete, sessions_mark_node_lost, sessions_move_away
from workers_app.models import Worker, heartbeat_deadline
from workers_app.probe import node_answers_health

logger = logging.getLogger(__name__)


def workers_mark_offline() -> list[str]:
    """Mark OFFLINE every ONLINE or DRAINING node whose heartbeat is older than the deadline.

    A node that still answers its own health URL is not marked (see workers_app.probe): its
    heartbeats are lost on the way, most likely because the backend's web process is down.
    The sessions of each node marked that can move (connected, login in a shared store that an
    online node also uses) move there and resume without a scan (`moves.sessions_move_away`);
    its other connected and starting sessions become DISCONNECTED (`node_lost`, see
    `moves.sessions_mark_node_lost`). Returns the ids marked. Safe to run any number of times
    (Celery beat runs it).
    """
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
