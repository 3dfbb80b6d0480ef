"""Media of messages: read it (URL, base64, upload), check its type and size, keep it in storage.

Files are kept through Django's storage API (django-storages): local disk under MEDIA_ROOT by
default, S3 or MinIO when `MEDIA_S3_BUCKET` is set. Rows are `MediaFile`; the node fetches a file
over HTTP with its token (`GET /api/internal/media/{id}`) and uploads received ones
(`POST /api/webhooks/media`), so it never needs the storage credentials.

The mimetype is decided in this order of trust: the content (libmagic's sniffing of the first
bytes), then the type the caller declared, then the file name's extension.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

import magic
import urllib3
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from accounts.models import User
from gateway.netsafety import check_url
from sessions_app.errors import (
    MediaDownloadFailed,
    MediaDownloadTimeout,
    MediaInvalid,
    MediaTooLarge,
    MediaTypeMismatch,
)
from sessions_app.models import MediaFile, Session

MB = 1024 * 1024
KB = 1024

# Per-type size caps in bytes. Source: Meta, WhatsApp Cloud API reference, "Media" — supported
# media types and their maximum sizes (audio 16 MB, document 100 MB, image 5 MB, video 16 MB,
# static sticker 100 KB, animated sticker 500 KB). The sticker cap here is the animated one.
MEDIA_LIMITS: dict[str, int] = {
    "image": 5 * MB,
    "video": 16 * MB,
    "audio": 16 * MB,
    "voice": 16 * MB,
    "document": 100 * MB,
    "sticker": 500 * KB,
}
MEDIA_TYPES = tuple(MEDIA_LIMITS)

# Mimetypes the content must sniff as, per type (None: any). Same source as MEDIA_LIMITS, widened
# to what WhatsApp's apps send themselves (WebP images, OGG audio).
ALLOWED_MIMETYPES: dict[str, tuple[str, ...] | None] = {
    "image": ("image/jpeg", "image/png", "image/webp"),
    "video": ("video/mp4", "video/3gpp"),
    "audio": (
        "audio/aac",
        "audio/mp4",
        "audio/x-m4a",
        "audio/mpeg",
        "audio/amr",
        "audio/ogg",
        "audio/opus",
        "video/mp4",  # libmagic calls an audio-only MP4 (.m4a) video/mp4
    ),
    "voice": ("audio/ogg", "audio/opus"),
    "document": None,
    "sticker": ("image/webp",),
}
# Sniffed types that say "no idea": the declared type or the file name decides then.
GENERIC_MIMETYPES = {"application/octet-stream", "text/plain", "application/zip", "inode/x-empty"}
SNIFF_BYTES = 8192
CHUNK_BYTES = 64 * KB
MAX_REDIRECTS = 3
_BASE64_PREFIX = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,]*)?;base64,", re.I)


@dataclass(frozen=True)
class MediaSource:
    """What the caller gave: exactly one of `url`, `base64` or `upload` (a Django UploadedFile)."""

    url: str | None = None
    base64: str | None = None
    upload: Any = None
    mimetype: str | None = None
    filename: str | None = None


def media_limit(type_: str) -> int:
    """Return the byte cap of a media message type (the lower of its own and MEDIA_MAX_BYTES)."""
    return min(MEDIA_LIMITS[type_], settings.MEDIA_MAX_BYTES)


def sniff_mimetype(head: bytes) -> str:
    """Return the mimetype libmagic reads from the first bytes of a file."""
    if not head:
        return "inode/x-empty"
    return magic.from_buffer(head[:SNIFF_BYTES], mime=True) or "application/octet-stream"


# RFC 6838 §4.2 restricted names: `type/subtype`, each 1–127 characters of this set.
MIMETYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
FILENAME_MAX_CHARS = 255


def clean_filename(name: str | None, *, strict: bool) -> str | None:
    """Return a file name fit to keep: control characters and path parts removed.

    Over FILENAME_MAX_CHARS characters it raises MediaInvalid when `strict` (the user named it),
    else it is shortened keeping its extension (a name taken from a URL or a node).
    """
    if not name:
        return None
    name = "".join(c for c in name if c.isprintable()).replace("/", "_").replace("\\", "_")
    name = name.strip()
    if len(name) > FILENAME_MAX_CHARS:
        if strict:
            raise MediaInvalid(
                f"File name is longer than {FILENAME_MAX_CHARS} characters.",
                fields={"filename": [f"At most {FILENAME_MAX_CHARS} characters."]},
            )
        stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 16 else ""
        name = (
            name[: FILENAME_MAX_CHARS - len(keep) - 1] + "." + keep
            if keep
            else name[:FILENAME_MAX_CHARS]
        )
    return name or None


def decide_mimetype(*, type_: str, head: bytes, declared: str | None, filename: str | None) -> str:
    """Return the file's mimetype: content first, then declared, then the file name.

    Raises MediaTypeMismatch (422) when the content does not fit `type_` (an HTML page sent as
    `image`); a voice note must be OGG with the Opus codec.
    """
    sniffed = sniff_mimetype(head)
    declared = (declared or "").split(";")[0].strip().lower() or None
    if declared is not None and not MIMETYPE.fullmatch(declared):
        declared = None  # a declared type is only a hint; one that isn't `type/subtype` is noise
    guessed = mimetypes.guess_type(filename or "")[0] if filename else None
    allowed = ALLOWED_MIMETYPES[type_]
    if allowed is None:  # documents: anything, named as precisely as we can
        if sniffed not in GENERIC_MIMETYPES:
            return sniffed
        return declared or guessed or sniffed
    if sniffed not in allowed:
        raise MediaTypeMismatch(
            f"The file is {sniffed}, which cannot be sent as {type_} "
            f"(allowed: {', '.join(allowed)}).",
            fields={"media": [f"Content is {sniffed}."]},
        )
    if type_ == "voice" and b"OpusHead" not in head[:SNIFF_BYTES]:
        raise MediaTypeMismatch(
            "A voice note must be OGG audio with the Opus codec.",
            fields={"media": ["Content is OGG without Opus."]},
        )
    return sniffed


class _Spool:
    """Collect bytes into a temporary file while hashing and counting them against a cap."""

    def __init__(self, limit: int, type_: str) -> None:
        self.limit = limit
        self.type_ = type_
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=2 * MB)
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = b""

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.file.close()
            raise _too_large(self.type_, self.limit)
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
        self.sha.update(chunk)
        self.file.write(chunk)


def _too_large(type_: str, limit: int) -> MediaTooLarge:
    return MediaTooLarge(
        f"{type_} files may be at most {limit} bytes.", fields={"media": [f"Max {limit} bytes."]}
    )


def read_base64(value: str, *, type_: str) -> tuple[_Spool, str | None]:
    """Decode base64 (with or without a `data:<mime>;base64,` prefix); return spool and mime.

    Raises MediaTooLarge before decoding when the text is too long, MediaInvalid when it is
    not base64.
    """
    declared = None
    match = _BASE64_PREFIX.match(value)
    if match:
        declared = match.group("mime")
        value = value[match.end() :]
    value = "".join(value.split())
    limit = media_limit(type_)
    if len(value) * 3 // 4 > limit + 2:
        raise _too_large(type_, limit)
    try:
        data = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaInvalid(
            "media.base64 is not valid base64.", fields={"media": ["Not base64."]}
        ) from exc
    if not data:
        raise MediaInvalid("media.base64 is empty.", fields={"media": ["Empty."]})
    spool = _Spool(limit, type_)
    spool.write(data)
    return spool, declared


def read_upload(upload: Any, *, type_: str) -> _Spool:
    """Copy an uploaded file (multipart) into a spool. Raises MediaTooLarge or MediaInvalid."""
    limit = media_limit(type_)
    if upload.size is not None and upload.size > limit:
        raise _too_large(type_, limit)
    spool = _Spool(limit, type_)
    for chunk in upload.chunks(CHUNK_BYTES):
        spool.write(chunk)
    if spool.size == 0:
        raise MediaInvalid("The uploaded file is empty.", fields={"file": ["Empty."]})
    return spool


def download(url: str, *, type_: str) -> tuple[_Spool, str | None, str | None]:
    """Stream `url` into a spool; return (spool, Content-Type, file name from the URL).

    Every hop (redirects included, at most MAX_REDIRECTS) passes `check_url` and is reached at
    the address that check resolved, so DNS rebinding cannot slip through. The whole download
    must finish within MEDIA_DOWNLOAD_TIMEOUT_S seconds and the per-type cap. Raises UnsafeUrl
    (400), MediaDownloadFailed, MediaDownloadTimeout (422) or MediaTooLarge (413).
    """
    limit = media_limit(type_)
    deadline = time.monotonic() + settings.MEDIA_DOWNLOAD_TIMEOUT_S
    for _hop in range(MAX_REDIRECTS + 1):
        checked = check_url(url)
        response = _open(checked, deadline)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise MediaDownloadFailed("The media URL redirected nowhere.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise MediaDownloadFailed(
                    f"The media URL answered HTTP {response.status}.",
                    fields={"media": [f"HTTP {response.status}"]},
                )
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise _too_large(type_, limit)
            spool = _Spool(limit, type_)
            # A server that drips a few bytes at a time satisfies every per-read timeout; the
            # watchdog cuts the connection at the deadline so the whole download is bounded.
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), response.shutdown)
            watchdog.daemon = True
            watchdog.start()
            try:
                for chunk in _chunks(response, deadline):
                    spool.write(chunk)
            finally:
                watchdog.cancel()
            if time.monotonic() > deadline:
                raise MediaDownloadTimeout()
            if spool.size == 0:
                raise MediaDownloadFailed("The media URL returned an empty file.")
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None
            return spool, response.headers.get("Content-Type"), name
        finally:
            response.release_conn()
    raise MediaDownloadFailed("The media URL redirected too many times.")


def _open(checked: Any, deadline: float) -> Any:
    address = checked.addresses[0]
    remaining = max(0.1, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=min(5.0, remaining), read=remaining)
    if checked.scheme == "https":
        pool: Any = urllib3.HTTPSConnectionPool(
            address,
            checked.port,
            server_hostname=checked.host,
            assert_hostname=checked.host,
            timeout=timeout,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, checked.port, timeout=timeout, retries=False)
    parts = urlsplit(checked.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = checked.host if ":" not in checked.host else f"[{checked.host}]"
    default_port = 443 if checked.scheme == "https" else 80
    if checked.port != default_port:
        host_header += f":{checked.port}"
    try:
        return pool.urlopen(
            "GET",
            target,
            headers={"Host": host_header, "User-Agent": "wa-gateway-media-fetch"},
            redirect=False,
            preload_content=False,
            decode_content=False,
        )
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        raise MediaDownloadTimeout() from exc
    except urllib3.exceptions.HTTPError as exc:
        raise MediaDownloadFailed("The media URL could not be reached.") from exc


def _chunks(response: Any, deadline: float) -> Any:
    try:
        while True:
            if time.monotonic() > deadline:
                raise MediaDownloadTimeout()
            chunk = response.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        raise MediaDownloadTimeout() from exc
    except urllib3.exceptions.HTTPError as exc:
        raise MediaDownloadFailed("The media download broke off.") from exc


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
    spool = _Spool(limit, "document")
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
    spool: _Spool,
    mimetype: str,
    filename: str,
    direction: str,
) -> MediaFile:
    sha256 = spool.sha.hexdigest()
    existing = MediaFile.objects.filter(
        owner=owner,
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


def media_descriptor(media: MediaFile) -> dict[str, Any]:
    """Return the JSON the node gets for a file: id, mimetype, filename, size (bytes), sha256."""
    return {
        "id": media.id,
        "mimetype": media.mimetype,
        "filename": media.filename,
        "size": media.size,
        "sha256": media.sha256,
    }
