"""A session's RPC calls to its node (groups, contacts, profiles): the one place their answers
(`{result}` or `{error, message}`, node_agent/session_calls.py) become results or API errors."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from gateway.errors import GatewayError
from node_agent.protocol import NOT_CONNECTED, NodeTask
from sessions_app import errors
from sessions_app.sessions.models import Session
from workers_app.errors import NodeRequestFailed
from workers_app.node_client import node_call

# What any session RPC may answer besides its own codes (for the OpenAPI error answers).
NODE_CALL_ERRORS = {
    422: "`whatsapp_error`: WhatsApp refused, in its own words.",
    502: "`node_error`: the node answered with an error.",
    504: "`node_timeout`: the node did not answer in time.",
}

# The node's answer codes (node_agent.engines.base.CallRefused) and the error each one raises.
_REFUSALS: dict[str, type[GatewayError]] = {
    "group_not_found": errors.GroupNotFound,
    "not_admin": errors.GroupNotAdmin,
    "not_participant": errors.GroupNotParticipant,
    "invite_invalid": errors.GroupInviteInvalid,
    "already_participant": errors.GroupAlreadyParticipant,
    "groups_unsupported": errors.GroupsUnsupported,
    "contact_not_found": errors.ContactNotFound,
    "contacts_unsupported": errors.ContactsUnsupported,
    "chats_unsupported": errors.ChatsUnsupported,
    "chat_not_found": errors.ChatNotFound,
    "whatsapp_error": errors.WhatsAppRefused,
    NOT_CONNECTED: errors.SessionNotConnected,
}


def session_call(*, session: Session, task: NodeTask) -> Any:
    """Send the RPC `task` (a GroupCall or ContactCall of `session`) to the session's node and
    return its result.

    Raises SessionNotConnected (409) before asking when the session cannot act; then what the
    node answered: GroupNotFound (404 `group_not_found`), GroupNotAdmin (403 `not_admin`),
    GroupNotParticipant (403 `not_participant`), GroupInviteInvalid (404 `invite_invalid`),
    GroupAlreadyParticipant (409), GroupsUnsupported (409), ContactNotFound (404
    `contact_not_found`), ContactsUnsupported (409), WhatsAppRefused (422 `whatsapp_error`, with
    WhatsApp's words), NodeTimeout (504), NodeRequestFailed (502, also for parameters the node
    refused, which the API's validation should have caught).
    """
    if not session.sendable:
        raise errors.SessionNotConnected()
    answer = node_call(
        worker_id=session.worker_id, task=task, timeout_s=settings.NODE_RPC_TIMEOUT_S
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
