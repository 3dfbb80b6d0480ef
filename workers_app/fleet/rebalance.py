"""Rebalancing: even out the nodes that share a session store by handing sessions over."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from sessions_app.sessions.models import Session
from workers_app.fleet.moves import Move, session_move
from workers_app.models import Worker

S = Session.Status


def workers_rebalance(*, worker_ids: Iterable[str] | None = None) -> list[Move]:
    """Even out the nodes sharing a session store by moving CONNECTED sessions between them.

    Groups are the online nodes with the same non-empty `session_store`, among
    `worker_ids` when given. In each, a session moves from the most loaded node (assigned
    sessions / `max_sessions`, as placement counts them) to the least loaded one that has room
    and the session's engine, as long as the target's load after the move stays below the
    source's load before it: the higher of the two always drops, so the spread never grows and
    6 sessions on one node and 0 on an equal one end 3 and 3. Each move is a handover (the
    source stops the session before the target starts it). Returns the moves, none when already
    balanced. Safe to repeat.
    """
    nodes = Worker.objects.online().exclude(session_store="")
    if worker_ids is not None:
        nodes = nodes.filter(id__in=list(worker_ids))
    groups: dict[str, list[str]] = defaultdict(list)
    for store, node_id in nodes.values_list("session_store", "id"):
        groups[store].append(node_id)
    moves: list[Move] = []
    for store, node_ids in sorted(groups.items()):
        if len(node_ids) > 1:
            moves += _group_rebalance(store=store, worker_ids=node_ids)
    return moves


@transaction.atomic
def _group_rebalance(*, store: str, worker_ids: list[str]) -> list[Move]:
    now = timezone.now()
    # Sessions first, then nodes: the order session_connect and the evacuations lock them in.
    sessions = list(
        Session.objects.select_for_update(of=("self",))
        .filter(worker_id__in=worker_ids, status=S.CONNECTED, session_store=store)
        .order_by("created_at", "id")
    )
    nodes = {
        worker.id: worker
        for worker in Worker.objects.select_for_update()
        .filter(id__in=worker_ids, status=Worker.Status.ONLINE, session_store=store)
        .order_by("id")
    }
    assigned = dict.fromkeys(nodes, 0)
    counts = (
        Session.objects.filter(worker_id__in=list(nodes))
        .order_by()
        .values("worker_id")
        .annotate(n=Count("id"))
    )
    assigned.update({row["worker_id"]: row["n"] for row in counts})
    movable: dict[str, list[Session]] = defaultdict(list)
    for session in sessions:
        if session.worker_id in nodes:
            movable[session.worker_id].append(session)
    moves: list[Move] = []
    for _ in range(len(sessions)):
        step = _next_move(nodes, assigned, movable)
        if step is None:
            break
        session, source, target = step
        movable[source].remove(session)
        assigned[source] -= 1
        assigned[target] += 1
        moves.append(
            session_move(session=session, target=nodes[target], source_alive=True, now=now)
        )
    return moves


def _load(node: Worker, assigned: int) -> float:
    return assigned / max(node.max_sessions, 1)


def _next_move(
    nodes: dict[str, Worker], assigned: dict[str, int], movable: dict[str, list[Session]]
) -> tuple[Session, str, str] | None:
    # The most loaded source first, the least loaded target first; a move is useful only if the
    # target's load after it stays below the source's load before it.
    by_load = sorted(nodes, key=lambda node_id: (_load(nodes[node_id], assigned[node_id]), node_id))
    for source in reversed(by_load):
        before = _load(nodes[source], assigned[source])
        for target in by_load:
            node = nodes[target]
            if target == source or assigned[target] >= node.max_sessions:
                continue
            if _load(node, assigned[target] + 1) >= before:
                continue
            session = next((s for s in movable[source] if s.engine in node.engines), None)
            if session is not None:
                return session, source, target
    return None
