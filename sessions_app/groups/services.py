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
from sessions_app.sessions.models import Session
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
