"""Writes for media: keep a file a user sends or a session received, in the media storage.

Files are kept through Django's storage API (django-storages): local disk under MEDIA_ROOT by
default, S3 or MinIO when `MEDIA_S3_BUCKET` is set. Rows are `MediaFile`; the node fetches a file
over HTTP with its token (`GET /api/internal/media/{id}`) and uploads received ones
(`POST /api/webhooks/media`), so it never needs the storage credentials.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from accounts.models import User
from sessions_app.errors import MediaInvalid
from sessions_app.media.content import (
    GENERIC_MIMETYPES,
    MIMETYPE,
    clean_filename,
    decide_mimetype,
    sniff_mimetype,
)
from sessions_app.media.models import MediaFile
from sessions_app.media.sources import (
    CHUNK_BYTES,
    MediaSource,
    Spool,
    download,
    read_base64,
    read_upload,
)
from sessions_app.sessions.models import Session


def media_store(
    *,
    owner: User,
    session: Session | None,
    type_: str,
    source: MediaSource,
    direction: str = MediaFile.Direction.OUT,
) -> MediaFile:
    """Read, check and keep one media file; return its MediaFile row.

    The same owner storing the same bytes, name and mimetype gets the existing row back (so a
    repeated request builds the same payload). Raises UnsafeUrl, MediaInvalid, MediaTooLarge,
    MediaTypeMismatch, MediaDownloadFailed or MediaDownloadTimeout.
    """
    filename = clean_filename(source.filename, strict=True)
    declared = source.mimetype
    if source.url is not None:
        spool, content_type, url_name = download(source.url, type_=type_)
        declared = declared or content_type
        filename = filename or clean_filename(url_name, strict=False)
    elif source.base64 is not None:
        spool, prefix_mime = read_base64(source.base64, type_=type_)
        declared = declared or prefix_mime
    elif source.upload is not None:
        spool = read_upload(source.upload, type_=type_)
        declared = declared or getattr(source.upload, "content_type", None)
        filename = filename or clean_filename(getattr(source.upload, "name", None), strict=True)
    else:
        raise MediaInvalid("Give media.url, media.base64 or a file upload.")
    try:
        mimetype = decide_mimetype(
            type_=type_, head=spool.head, declared=declared, filename=filename
        )
        return _keep(
            owner=owner,
            session=session,
            spool=spool,
            mimetype=mimetype,
            filename=filename or "",
            direction=direction,
        )
    finally:
        spool.file.close()


def media_store_received(
    *, session: Session, upload: Any, mimetype: str, filename: str
) -> MediaFile:
    """Keep a file a session received (uploaded by its node); return its MediaFile row.

    Capped by MEDIA_MAX_BYTES only: WhatsApp already delivered it. Raises MediaTooLarge.
    """
    limit = settings.MEDIA_MAX_BYTES
    spool = Spool(limit, "document")
    try:
        for chunk in upload.chunks(CHUNK_BYTES):
            spool.write(chunk)
        sniffed = sniff_mimetype(spool.head)
        declared = (mimetype or "").split(";")[0].strip().lower()
        if sniffed in GENERIC_MIMETYPES and MIMETYPE.fullmatch(declared):
            sniffed = declared
        return _keep(
            owner=session.owner,
            session=session,
            spool=spool,
            mimetype=sniffed,
            filename=clean_filename(filename, strict=False) or "",
            direction=MediaFile.Direction.IN,
        )
    finally:
        spool.file.close()


def _keep(
    *,
    owner: User,
    session: Session | None,
    spool: Spool,
    mimetype: str,
    filename: str,
    direction: str,
) -> MediaFile:
    sha256 = spool.sha.hexdigest()
    # Reused within one session only: a key bound to another session must get a file it opens.
    existing = MediaFile.objects.filter(
        owner=owner,
        session=session,
        sha256=sha256,
        mimetype=mimetype,
        filename=filename,
        direction=direction,
        size=spool.size,
    ).first()
    if existing is not None and default_storage.exists(existing.storage_name):
        return existing
    media = MediaFile(
        owner=owner,
        session=session,
        direction=direction,
        mimetype=mimetype,
        filename=filename,
        size=spool.size,
        sha256=sha256,
    )
    spool.file.seek(0)
    # The storage name holds no user text: the exact Unicode file name lives in the row.
    extension = mimetypes.guess_extension(mimetype) or ".bin"
    media.storage_name = default_storage.save(
        f"wa-media/{owner.pk}/{sha256[:2]}/{media.id}{extension}", File(spool.file)
    )
    media.save()
    return media


def media_discard_unsent(*, media_id: str) -> None:
    """Delete the outbound media file `media_id` and its row unless a recorded message names it
    (a file kept for a send that was then refused; `_keep` reuses rows, so it may be another
    send's)."""
    from sessions_app.messages.models import OutboundMessage  # messages build on media

    if OutboundMessage.objects.filter(payload__media__id=media_id).exists():
        return
    media = MediaFile.objects.filter(id=media_id, direction=MediaFile.Direction.OUT).first()
    if media is None:
        return
    default_storage.delete(media.storage_name)
    media.delete()


def media_descriptor(media: MediaFile) -> dict[str, Any]:
    """Return the JSON the node gets for a file: id, mimetype, filename, size (bytes), sha256."""
    return {
        "id": media.id,
        "mimetype": media.mimetype,
        "filename": media.filename,
        "size": media.size,
        "sha256": media.sha256,
    }
