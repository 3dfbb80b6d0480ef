"""A session's WhatsApp groups: every call is one GroupCall RPC to the session's node, which asks
WhatsApp (or, for listings, its own store of the session's groups; node_agent/group_calls.py).

The backend keeps nothing of groups: they are WhatsApp's, and the node that holds the session
holds what it last saw of them. Shapes (GroupInfo, ParticipantResult): node_agent/groups.py.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from gateway.errors import GatewayError
from node_agent.protocol import NOT_CONNECTED, GroupCall
from sessions_app import errors
from sessions_app.sessions.models import Session, node_serves
from sessions_app.webhooks.events import event_emit
from workers_app.errors import NodeRequestFailed
from workers_app.node_client import node_call

# The node's answer codes (node_agent.engines.base.GroupError) and the error each one raises.
_REFUSALS: dict[str, type[GatewayError]] = {
    "group_not_found": errors.GroupNotFound,
    "not_admin": errors.GroupNotAdmin,
    "not_participant": errors.GroupNotParticipant,
    "invite_invalid": errors.GroupInviteInvalid,
    "already_participant": errors.GroupAlreadyParticipant,
    "groups_unsupported": errors.GroupsUnsupported,
    "whatsapp_error": errors.WhatsAppRefused,
    NOT_CONNECTED: errors.SessionNotConnected,
}


def group_call(*, session: Session, op: str, **params: Any) -> Any:
    """Run group operation `op` (protocol.GroupCall.OPS) with `params` (wire names) on the
    session's node; return its result.

    Raises SessionNotConnected (409) before asking when the session cannot act; then what the
    node answered: GroupNotFound (404 `group_not_found`), GroupNotAdmin (403 `not_admin`),
    GroupNotParticipant (403 `not_participant`), GroupInviteInvalid (404 `invite_invalid`),
    GroupAlreadyParticipant (409), GroupsUnsupported (409), WhatsAppRefused (422
    `whatsapp_error`, with WhatsApp's words), NodeTimeout (504), NodeRequestFailed (502, also for
    parameters the node refused, which the API's validation should have caught).
    """
    if not session.sendable:
        raise errors.SessionNotConnected()
    answer = node_call(
        worker_id=session.worker_id,
        task=GroupCall(session_id=session.id, op=op, params=params),
        timeout_s=settings.NODE_RPC_TIMEOUT_S,
    )
    if not isinstance(answer, dict):
        raise NodeRequestFailed()
    code = answer.get("error")
    if code is None:
        return answer.get("result")
    refusal = _REFUSALS.get(str(code))
    if refusal is None:
        raise NodeRequestFailed(f"The node refused the call ({code}).")
    if refusal is errors.WhatsAppRefused:
        raise refusal(f"WhatsApp refused: {str(answer.get('message') or code)[:300]}")
    raise refusal()


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
