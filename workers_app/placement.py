"""Placement: which node a session goes to, for a user's connect and for the fleet's moves.

A read of the registry with a row lock: it knows nothing of sessions but their count per node,
so both `sessions_app` (connect) and `workers_app.fleet` (moves) can use it.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Count, Q

from workers_app.errors import NoWorkerAvailable
from workers_app.models import Worker

# The statuses of a session that holds a connection or is building one: only these take room on
# a node (a disconnected or logged-out session keeps its node for a later connect, but no
# connection). Session.Status values; placement may not import the sessions app, and a test
# holds this list equal to `sessions_app.sessions.status.STARTING` plus CONNECTED.
HOLDING_STATUSES = ("INITIALIZING", "QR_REQUIRED", "PAIRING", "RECONNECTING", "CONNECTED")


def worker_pick(*, engine: str, store: str | None = None, exclude: Collection[str] = ()) -> Worker:
    """Choose the node for a session: online (`Worker.objects.online()`), has `engine`, most room.

    `store`, when given, keeps only the nodes whose `session_store` it is (a moving session's
    login is there); `exclude` lists node ids never to choose (the node a session leaves).
    Room is assigned sessions (those in HOLDING_STATUSES) over `max_sessions` (the database's
    count, not the last heartbeat's, so a burst of connects spreads out), then CPU, then memory.
    The chosen row is locked until the caller's transaction ends. Raises NoWorkerAvailable.
    """
    candidates = Worker.objects.online().exclude(id__in=list(exclude))
    if store is not None:
        candidates = candidates.filter(session_store=store)
    candidates = candidates.annotate(
        assigned=Count("sessions", filter=Q(sessions__status__in=HOLDING_STATUSES))
    ).order_by("id")
    usable = [w for w in candidates if engine in w.engines and w.assigned < w.max_sessions]
    if not usable:
        raise NoWorkerAvailable()
    usable.sort(key=lambda w: (w.assigned / max(w.max_sessions, 1), w.cpu_usage, w.memory_usage))
    return Worker.objects.select_for_update().get(id=usable[0].id)


def worker_pick_for(*, engine: str, session_store: str = "") -> Worker:
    """Choose the node for a session (re)connecting: a node of its login's store first.

    A node sharing the store that holds the session's login (`session_store`, "" for none)
    resumes it without a new scan; otherwise any node with room. Raises NoWorkerAvailable.
    """
    if session_store:
        try:
            return worker_pick(engine=engine, store=session_store)
        except NoWorkerAvailable:
            pass
    return worker_pick(engine=engine)
