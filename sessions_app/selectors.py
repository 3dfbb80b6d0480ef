"""Reads for sessions and messages, always scoped to their owner (another's is not found)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import ApiKey, User
from gateway.errors import MessageNotFound, SessionNotFound
from sessions_app.models import MediaFile, OutboundMessage, Session


def session_list(*, owner: User, api_key: ApiKey | None = None) -> QuerySet[Session]:
    """Return the owner's sessions, newest first; a session-bound key sees only its session."""
    sessions = Session.objects.for_owner(owner)
    if api_key is not None and api_key.session_id:
        sessions = sessions.filter(id=api_key.session_id)
    return sessions


def session_get(*, owner: User, session_id: str, api_key: ApiKey | None = None) -> Session:
    """Return one of the owner's sessions. Raises SessionNotFound (also for another's)."""
    session = session_list(owner=owner, api_key=api_key).filter(id=session_id).first()
    if session is None:
        raise SessionNotFound()
    return session


def message_get(*, owner: User, message_id: str, api_key: ApiKey | None = None) -> OutboundMessage:
    """Return one of the owner's outbound messages. Raises MessageNotFound."""
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


HISTORY_LIMIT_MAX = 200


def message_history(
    *, owner: User, session: Session, since: int = 0, limit: int = 50
) -> list[dict[str, Any]]:
    """Return a session's messages in both directions from its node's SQLite, oldest first.

    `since` is the `cursor` of the last message already seen (0: from the start); at most
    `limit` (1..HISTORY_LIMIT_MAX) messages come back. Asks the node over Celery (the
    `messages_list` RPC). Raises SessionHasNoNode, NodeTimeout (504) or NodeRequestFailed.
    """
    from django.conf import settings

    from sessions_app.errors import SessionHasNoNode
    from sessions_app.node_client import node_call

    if session.owner_id != owner.pk:
        raise SessionNotFound()
    if not session.worker_id:
        raise SessionHasNoNode()
    return node_call(
        worker_id=session.worker_id,
        task="messages_list",
        kwargs={"sessionId": session.id, "since": since, "limit": limit},
        timeout_s=settings.NODE_RPC_TIMEOUT_S,
    )


def contact_check(*, owner: User, session: Session, phone: str) -> dict[str, Any]:
    """Ask the session's node whether `phone` (E.164 digits) is on WhatsApp.

    Returns `{phone, onWhatsApp, jid}`. Raises SessionNotConnected, NodeTimeout (504) or
    NodeRequestFailed (502).
    """
    from django.conf import settings

    from gateway.errors import SessionNotConnected
    from sessions_app.node_client import node_call

    if session.owner_id != owner.pk:
        raise SessionNotFound()
    if session.status != Session.Status.CONNECTED or not session.worker_id:
        raise SessionNotConnected()
    answer = node_call(
        worker_id=session.worker_id,
        task="check_number",
        kwargs={"sessionId": session.id, "phone": phone},
        timeout_s=settings.NODE_RPC_TIMEOUT_S,
    )
    if answer.get("error") == "session_not_connected":
        raise SessionNotConnected()
    jid = answer.get("jid")
    return {"phone": phone, "onWhatsApp": bool(jid), "jid": jid}


def media_get(*, owner: User, media_id: str) -> MediaFile:
    """Return one of the owner's media files. Raises MediaNotFound (also for another's)."""
    from sessions_app.errors import MediaNotFound

    media = MediaFile.objects.filter(owner=owner, id=media_id).first()
    if media is None:
        raise MediaNotFound()
    return media
