"""Reads for sessions, always scoped to their owner (another's is not found)."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db.models import Count, QuerySet

from accounts.models import ApiKey, User
from gateway.rowload import RowLoader
from sessions_app.errors import SessionNotFound
from sessions_app.sessions.models import Session, node_serves
from workers_app.selectors import engines_reachable


def session_list(*, owner: User, api_key: ApiKey | None = None) -> QuerySet[Session]:
    """Return the owner's sessions, newest first; a session-bound key sees only its session."""
    sessions = Session.objects.for_owner(owner)
    if api_key is not None and api_key.session_id:
        sessions = sessions.filter(id=api_key.session_id)
    return sessions


def session_get(*, owner: User, session_id: str, api_key: ApiKey | None = None) -> Session:
    """Return one of the owner's sessions. Raises SessionNotFound (also for another's)."""
    if api_key is not None and api_key.session_id and api_key.session_id != session_id:
        raise SessionNotFound()  # the key is bound to another session
    row = _session_loader().first([session_id, owner.id])
    if row is None:
        raise SessionNotFound()
    return row[0]  # type: ignore[return-value]


@cache
def _session_loader() -> RowLoader:
    # Every session route reads its session so: one query, compiled once per process.
    return RowLoader(
        [(Session, "s")], f"FROM {Session._meta.db_table} s WHERE s.id = %s AND s.owner_id = %s"
    )


def sessions_not_on_node(*, worker_id: str, session_ids: list[str]) -> list[str]:
    """Return the ids in `session_ids` that are not assigned to the node `worker_id`.

    Those moved to another node, lost their node (it was removed) or were deleted: a node that
    still runs them must stop its copy, since two live copies of a WhatsApp session kick each
    other off. Ids come back in the order given.
    """
    wanted = set(session_ids)
    assigned = set(
        Session.objects.filter(id__in=wanted, worker_id=worker_id).values_list("id", flat=True)
    )
    return [sid for sid in dict.fromkeys(session_ids) if sid not in assigned]


def session_for_node(*, session_id: str, node_id: str | None = None) -> Session:
    """Return a session whoever owns it, for node `node_id` reporting about it: only one that
    node serves (`node_serves`; None: the shared node token, any). Raises SessionNotFound."""
    session = Session.objects.filter(id=session_id).select_related("owner").first()
    if session is None or not node_serves(node_id, session.worker_id, session.moved_from):
        raise SessionNotFound()
    return session


def session_reported(*, session_id: str, node_id: str | None, claimed: str = "") -> Session:
    """Return the session a node's report is about (only id, owner_id, worker_id, moved_from
    loaded), if both the reporting node `node_id` (its own credential; None: the shared token)
    and the node the report `claimed` serve it (`node_serves`). Raises SessionNotFound."""
    session = (
        Session.objects.filter(id=session_id)
        .only("id", "owner_id", "worker_id", "moved_from")
        .first()
    )
    if session is None or not all(
        node_serves(reporter, session.worker_id, session.moved_from)
        for reporter in (node_id, claimed or None)
    ):
        raise SessionNotFound()
    return session


def engine_suggested() -> str:
    """The engine a new session's form preselects: the sandbox on the embedded default (a
    first run on one machine) or when no online node reaches WhatsApp, else WhatsApp."""
    embedded = settings.CELERY_BROKER_URL.startswith("filesystem")
    if embedded or Session.Engine.WHATSAPP not in engines_reachable():
        return Session.Engine.SANDBOX
    return Session.Engine.WHATSAPP


def session_counts() -> dict[tuple[str, str], int]:
    """Return how many sessions there are of each (status, engine), all owners: one GROUP BY
    (for the operators' metrics)."""
    rows = Session.objects.order_by().values_list("status", "engine").annotate(n=Count("id"))
    return {(status, engine): n for status, engine, n in rows}
