"""Moving sessions between nodes that share a credential store: dead nodes, drains, rebalancing.

A session can move when its login is in a shared store (`Session.credential_store`, recorded
when it connected) and another ONLINE node uses that store (`Worker.session_store`): that node
resumes it from the store without a new scan. A session still linking (INITIALIZING, QR_REQUIRED,
PAIRING) cannot move, since its QR or pairing code belongs to its node, and neither can one
whose login is in its node's own store.

A move reassigns the session at once (PostgreSQL is the only record of where it runs) and
publishes after commit: to a dead node's successor a plain `session_start`; from a live node a
handover (stop there, then start on the target; see `node_client.node_handoff`), so that only
one node runs the session at any time. A move that never completes ends FAILED (`start_timeout`)
through `recovery.sessions_fail_stalled`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from gateway.models import system_log
from sessions_app.models import Session
from sessions_app.node_client import (
    node_handoff_on_commit,
    node_publish_on_commit,
    session_start_kwargs,
)
from sessions_app.reasons import NODE_MOVED, NODE_SHUTDOWN
from sessions_app.services import STARTING, session_status_set_by_backend
from workers_app.models import Worker
from workers_app.services import NoWorkerAvailable, heartbeat_deadline, worker_pick

S = Session.Status
MOVABLE = (S.CONNECTED, S.RECONNECTING)


@dataclass(frozen=True)
class Move:
    """One session moved from node `source` to node `target`."""

    session_id: str
    source: str
    target: str

    def as_dict(self) -> dict[str, str]:
        """Return the API shape: `{sessionId, from, to}`."""
        return {"sessionId": self.session_id, "from": self.source, "to": self.target}


@dataclass(frozen=True)
class Evacuation:
    """What moving a node's sessions away did: the moves, and how many running sessions stayed."""

    moved: list[Move]
    stayed: int


def session_move(*, session: Session, target: Worker, source_alive: bool, now: datetime) -> Move:
    """Reassign `session` (locked by the caller) to node `target` and hand it over after commit.

    The session is RECONNECTING (`node_moved`) on `target` until the target's first report.
    `last_seen_at` becomes `now`, so reports its former node made earlier no longer apply (those
    carrying the former node's id never do). `source_alive`: the former node still runs the
    session, so it stops it first and then publishes the start to `target`; otherwise `target`
    gets the start at once. Writes `session.moved` to the system log.
    """
    source_id = session.worker_id or ""
    session.worker = target
    session.moved_from = source_id if source_alive else ""
    session_status_set_by_backend(session, status=S.RECONNECTING, reason=NODE_MOVED, now=now)
    start = session_start_kwargs(session, method=session.connect_method or "qr")
    if source_alive and source_id:
        node_handoff_on_commit(
            source_id=source_id, target_id=target.id, session_id=session.id, start=start
        )
    else:
        node_publish_on_commit(
            worker_id=target.id,
            task="session_start",
            kwargs=start,
            expires_s=settings.SESSION_START_TIMEOUT_S,
        )
    system_log(
        event="session.moved",
        message=f"Session {session.name!r} moved from node {source_id or '-'} to {target.id}",
        user_id=session.owner_id,
        session_id=session.id,
        worker_id=target.id,
        source=source_id,
        handover=source_alive,
    )
    return Move(session_id=session.id, source=source_id, target=target.id)


def _movable(session: Session, *, source_alive: bool) -> bool:
    if not session.credential_store:
        return False
    if session.status not in MOVABLE and not (
        # A node stopped with SIGTERM reports its sessions so; they were running and resume
        # wherever they go (on its own restart, or on another node if it never comes back).
        not source_alive
        and session.status == S.DISCONNECTED
        and session.status_reason == NODE_SHUTDOWN
    ):
        return False
    # A session still on its way to a live node is left alone: its former node may yet publish
    # its start there, and a second handover could then leave two nodes running it.
    return not (source_alive and session.status_reason == NODE_MOVED)


def sessions_move_away(*, worker_id: str, source_alive: bool) -> Evacuation:
    """Move the movable sessions of node `worker_id` to other nodes sharing their store.

    Movable: CONNECTED or RECONNECTING with a `credential_store`. Each goes where `worker_pick`
    puts it among the ONLINE nodes with that store, its engine and room left (never over
    `max_sessions`; the sessions moved so far count). `source_alive`: the node still runs them
    (drain, removal), so each is handed over; else (the node is dead) the target starts it.
    The connected or starting sessions that did not move stay, counted in `stayed`; the caller
    decides their fate. Safe to repeat: a repeat moves what can move now.
    """
    now = timezone.now()
    moved: list[Move] = []
    with transaction.atomic():
        sessions = list(
            Session.objects.select_for_update(of=("self",))
            .filter(
                Q(status__in=[S.CONNECTED, *STARTING])
                | Q(status=S.DISCONNECTED, status_reason=NODE_SHUTDOWN),
                worker_id=worker_id,
            )
            .order_by("created_at", "id")
        )
        no_room: set[tuple[str, str]] = set()
        for session in sessions:
            kind = (session.engine, session.credential_store)
            if kind in no_room or not _movable(session, source_alive=source_alive):
                continue
            try:
                target = worker_pick(
                    engine=session.engine, store=session.credential_store, exclude=[worker_id]
                )
            except NoWorkerAvailable:
                no_room.add(kind)
                continue
            moved.append(
                session_move(session=session, target=target, source_alive=source_alive, now=now)
            )
    return Evacuation(moved=moved, stayed=len(sessions) - len(moved))


def handovers_complete(*, dead_worker_id: str) -> int:
    """Start on their targets the sessions a now dead node was handing over (never did).

    A handover publishes the start only after the source stopped the session; when the source
    dies first, its queue holds the stop (it expires, see node_client) and the session would
    wait for `start_timeout`. The target gets a direct start instead. Returns how many.
    """
    with transaction.atomic():
        pending = list(
            Session.objects.select_for_update(of=("self",)).filter(
                moved_from=dead_worker_id,
                status=S.RECONNECTING,
                status_reason=NODE_MOVED,
                worker__isnull=False,
            )
        )
        for session in pending:
            session.moved_from = ""
            session.save(update_fields=["moved_from"])
            node_publish_on_commit(
                worker_id=session.worker_id,
                task="session_start",
                kwargs=session_start_kwargs(session, method=session.connect_method or "qr"),
                expires_s=settings.SESSION_START_TIMEOUT_S,
            )
    return len(pending)


def workers_rebalance(*, worker_ids: Iterable[str] | None = None) -> list[Move]:
    """Even out the nodes sharing a credential store by moving CONNECTED sessions between them.

    Groups are the ONLINE nodes (fresh heartbeat) with the same non-empty `session_store`, among
    `worker_ids` when given. In each, a session moves from the most loaded node (assigned
    sessions / `max_sessions`, as placement counts them) to the least loaded one that has room
    and the session's engine, as long as the target's load after the move stays below the
    source's load before it: the higher of the two always drops, so the spread never grows and
    6 sessions on one node and 0 on an equal one end 3 and 3. Each move is a handover (the
    source stops the session before the target starts it). Returns the moves, none when already
    balanced. Safe to repeat.
    """
    nodes = Worker.objects.filter(
        status=Worker.Status.ONLINE, last_heartbeat__gte=timezone.now() - heartbeat_deadline()
    ).exclude(session_store="")
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
        .filter(worker_id__in=worker_ids, status=S.CONNECTED, credential_store=store)
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
