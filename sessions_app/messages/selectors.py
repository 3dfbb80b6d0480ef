"""Reads for messages, always scoped to their owner (another's is not found).

The history is asked of the session's node (an RPC over Celery): the backend keeps only the
delivery ledger, the node the messages themselves.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import ApiKey, User
from node_agent.protocol import MessagesList
from sessions_app.errors import (
    MessageNotFound,
    SessionHasNoNode,
    SessionNotFound,
)
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from workers_app.node_client import node_call

HISTORY_LIMIT_MAX = 200


def message_get(*, owner: User, message_id: str, api_key: ApiKey | None = None) -> OutboundMessage:
    """Return one of the owner's outbound messages (within the key's session, if it is bound to
    one). Raises MessageNotFound."""
    messages = OutboundMessage.objects.for_owner(owner)
    if api_key is not None and api_key.session_id:
        messages = messages.filter(session_id=api_key.session_id)
    message = messages.filter(id=message_id).first()
    if message is None:
        raise MessageNotFound()
    return message


def message_list(*, owner: User, session: Session, limit: int = 50) -> list[OutboundMessage]:
    """Return the newest outbound messages of one of the owner's sessions."""
    return list(OutboundMessage.objects.for_owner(owner).filter(session=session)[:limit])


def message_history(
    *, owner: User, session: Session, since: int = 0, limit: int = 50, **page: Any
) -> list[dict[str, Any]]:
    """Return a session's messages in both directions from its node's SQLite, oldest first.

    `since` is the `cursor` of the last message already seen (0: from the start); at most
    `limit` (1..HISTORY_LIMIT_MAX) items come back, shaped as `protocol.HISTORY_ITEM_KEYS`.
    `page` may narrow it as `protocol.MessagesList` says: `before`, `newest_first`,
    `direction`, `query`. Raises SessionNotFound, SessionHasNoNode, NodeTimeout (504) or
    NodeRequestFailed (502).
    """
    if session.owner_id != owner.pk:
        raise SessionNotFound()
    if not session.worker_id:
        raise SessionHasNoNode()
    return node_call(
        worker_id=session.worker_id,
        task=MessagesList(session_id=session.id, since=since, limit=limit, **page),
        timeout_s=settings.NODE_RPC_TIMEOUT_S,
    )
