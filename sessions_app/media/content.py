"""What a media file is: its type by content, the caps per message type, a safe file name.

The mimetype is decided in this order of trust: the content (libmagic's sniffing of the first
bytes), then the type the caller declared, then the file name's extension.
"""

from __future__ import annotations

import mimetypes
import re

import magic
from django.conf import settings

from sessions_app.errors import MediaInvalid, MediaTooLarge, MediaTypeMismatch

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


def too_large(type_: str, limit: int) -> MediaTooLarge:
    """Return the 413 for a `type_` file over `limit` bytes."""
    return MediaTooLarge(
        f"{type_} files may be at most {limit} bytes.", fields={"media": [f"Max {limit} bytes."]}
    )
