"""Operators' actions on nodes: drain (and undrain) and remove, each moving sessions away."""

from __future__ import annotations

from django.db import transaction

from gateway.models import system_log
from workers_app.errors import WorkerNotFound
from workers_app.fleet.moves import Evacuation, sessions_mark_node_lost, sessions_move_away
from workers_app.models import Worker


def worker_drain(*, worker_id: str) -> tuple[Worker, Evacuation]:
    """Drain a node: it takes no new sessions, and its sessions that can move go to other nodes.

    The node becomes DRAINING until `worker_undrain` (an OFFLINE node stays OFFLINE and comes
    back DRAINING). Its connected sessions whose login is in a shared store go to ONLINE nodes
    of that store, each handed over (this node stops it, then the target starts it); the others
    stay here (those still linking finish here) and the system log says how many. Safe to
    repeat: a repeat moves what can move now. Raises WorkerNotFound.
    """
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
