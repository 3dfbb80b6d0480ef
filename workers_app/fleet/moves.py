"""Moving sessions between nodes that share a session store, and ending those that cannot move.

A session can move when its login is in a shared session store (`Session.session_store`,
recorded when it connected) and another online node uses that store (`Worker.session_store`):
that node resumes it from the store without a new scan. A session still linking (INITIALIZING,
QR_REQUIRED, PAIRING) cannot move, since its QR or pairing code belongs to its node, and neither
can one whose login is in its node's own files.

A move reassigns the session at once (PostgreSQL is the only record of where it runs) and
publishes after commit: to a dead node's successor a plain `session_start`; from a live node a
handover (stop there, then start on the target; see `node_client.node_handoff`), so that only
one node runs the session at any time. A move that never completes ends FAILED (`start_timeout`)
through `sessions_app.sessions.services.sessions_fail_stalled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gateway.models import SystemLog, system_log
from sessions_app.reasons import NODE_MOVED, NODE_SHUTDOWN
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import (
    session_handover_settle,
    session_reassign,
    session_start_task,
    session_status_set_by_backend,
)
from sessions_app.sessions.status import STARTING
from workers_app.errors import NoWorkerAvailable
from workers_app.models import Worker
from workers_app.node_client import node_handoff_on_commit, node_publish_on_commit
from workers_app.placement import worker_pick

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
    session_reassign(session, worker=target, moved_from=source_id if source_alive else "", now=now)
    start = session_start_task(session)
    if source_alive and source_id:
        node_handoff_on_commit(source_id=source_id, target_id=target.id, start=start)
    else:
        node_publish_on_commit(
            worker_id=target.id, task=start, expires_s=settings.SESSION_START_TIMEOUT_S
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
    if not session.session_store:
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

    Movable: CONNECTED or RECONNECTING with a `session_store`. Each goes where `worker_pick`
    puts it among the online nodes with that store, its engine and room left (never over
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
            kind = (session.engine, session.session_store)
            if kind in no_room or not _movable(session, source_alive=source_alive):
                continue
            try:
                target = worker_pick(
                    engine=session.engine, store=session.session_store, exclude=[worker_id]
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
            session_handover_settle(session)
            node_publish_on_commit(
                worker_id=session.worker_id,
                task=session_start_task(session),
                expires_s=settings.SESSION_START_TIMEOUT_S,
            )
    return len(pending)


def sessions_mark_node_lost(*, worker_id: str, reason: str = "node_lost") -> int:
    """Mark DISCONNECTED (`reason`) the connected or starting sessions still on node `worker_id`.

    For a node gone OFFLINE (`node_lost`) or removed (`node_removed`), after the sessions that
    could move to another node have moved (`sessions_move_away`). Those left have their
    login in the node's own store, or no node shares their store, or they were still linking
    (a QR belongs to its node): the user connects again, which places the session on an online
    node (a new scan is needed if its login stayed behind). Each change is in the system log.
    Returns how many sessions changed.
    """
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        sessions = Session.objects.select_for_update(of=("self",)).filter(
            worker_id=worker_id, status__in=[S.CONNECTED, *STARTING]
        )
        for session in sessions:
            session_status_set_by_backend(session, status=S.DISCONNECTED, reason=reason, now=now)
            system_log(
                event=f"session.{reason}",
                level=SystemLog.Level.WARNING,
                message=f"Session {session.name!r} lost its node {worker_id} ({reason})",
                user_id=session.owner_id,
                session_id=session.id,
                worker_id=worker_id,
            )
            changed += 1
    return changed
