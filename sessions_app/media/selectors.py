"""Reads for media, scoped to their owner (another's is not found)."""

from __future__ import annotations

from django.db.models import F

from accounts.models import ApiKey, User
from sessions_app.errors import MediaNotFound
from sessions_app.media.models import MediaFile
from sessions_app.sessions.models import node_serves


def media_get(*, owner: User, media_id: str, api_key: ApiKey | None = None) -> MediaFile:
    """Return one of the owner's media files; a key bound to one session opens only that
    session's files. Raises MediaNotFound (also for another's)."""
    media = MediaFile.objects.filter(owner=owner, id=media_id)
    if api_key is not None and api_key.session_id:
        media = media.filter(session_id=api_key.session_id)
    media = media.first()
    if media is None:
        raise MediaNotFound()
    return media


def media_get_any(*, media_id: str) -> MediaFile:
    """Return a media file whoever owns it (a signed link opens it). Raises MediaNotFound."""
    media = MediaFile.objects.filter(id=media_id).first()
    if media is None:
        raise MediaNotFound()
    return media


def media_get_for_node(*, media_id: str, node_id: str | None) -> MediaFile:
    """Return a media file whoever owns it, for node `node_id` to send: only a file of a session
    that node serves (`node_serves`; None: the shared node token, any file). Raises
    MediaNotFound."""
    media = (
        MediaFile.objects.filter(id=media_id)
        .annotate(on_node=F("session__worker_id"), moved_from=F("session__moved_from"))
        .first()
    )
    if media is None or not node_serves(node_id, media.on_node, media.moved_from):
        raise MediaNotFound()
    return media
