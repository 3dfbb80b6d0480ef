"""A session's WhatsApp groups: every call is one GroupCall RPC to the session's node, which asks
WhatsApp (or, for listings, its own store of the session's groups; node_agent/group_calls.py).

The backend keeps nothing of groups: they are WhatsApp's, and the node that holds the session
holds what it last saw of them. Shapes (GroupInfo, ParticipantResult): node_agent/groups.py.
"""

from __future__ import annotations

from typing import Any

from node_agent.protocol import GroupCall
from sessions_app import errors
from sessions_app.calls import session_call
from sessions_app.sessions.models import Session, node_serves
from sessions_app.webhooks.events import event_emit


def group_call(*, session: Session, op: str, **params: Any) -> Any:
    """Run group operation `op` (protocol.GroupCall.OPS) with `params` (wire names) on the
    session's node; return its result. Raises what `session_call` raises."""
    return session_call(
        session=session, task=GroupCall(session_id=session.id, op=op, params=params)
    )


def group_event_apply(
    *,
    session_id: str,
    event: str,
    event_id: str,
    group: str,
    by: str | None,
    data: dict[str, Any],
    node_id: str | None = None,
    claimed: str = "",
) -> None:
    """Apply a node's group-event report (protocol.GroupEventReport): emit `group.<event>` with
    data {sessionId, group, by, ...the report's data}, once per (session, `event_id`).

    Only from a node that serves the session (`node_serves`, as for incoming messages). Raises
    SessionNotFound, also for a session of another node.
    """
    session = (
        Session.objects.filter(id=session_id)
        .only("id", "owner_id", "worker_id", "moved_from")
        .first()
    )
    if session is None or not all(
        node_serves(reporter, session.worker_id, session.moved_from)
        for reporter in (node_id, claimed or None)
    ):
        raise errors.SessionNotFound()
    event_emit(
        owner_id=session.owner_id,
        session_id=session.id,
        type_=f"group.{event}",
        data={"sessionId": session.id, "group": group, "by": by, **data},
        dedupe_key=f"{session.id}:{event_id}",
    )
