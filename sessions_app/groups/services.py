"""A session's WhatsApp groups: every call is one GroupCall RPC to the session's node, which asks
WhatsApp (or, for listings, its own store of the session's groups; node_agent/group_calls.py).

The backend keeps nothing of groups: they are WhatsApp's, and the node that holds the session
holds what it last saw of them. Shapes (GroupInfo, ParticipantResult): node_agent/groups.py.
"""

from __future__ import annotations

from typing import Any

from node_agent.protocol import GroupCall
from sessions_app.calls import session_call
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_event_apply


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
    data {sessionId, group, by, ...the report's data}, once per (session, `event_id`). Raises
    what `session_event_apply` raises."""
    session_event_apply(
        session_id=session_id,
        type_=f"group.{event}",
        event_id=event_id,
        data={**data, "group": group, "by": by},
        node_id=node_id,
        claimed=claimed,
    )
