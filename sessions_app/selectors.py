"""Reads for sessions and messages, always scoped to their owner (another's is not found)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiKey, User
from gateway.errors import MessageNotFound, SessionNotFound
from sessions_app.models import OutboundMessage, Session


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
