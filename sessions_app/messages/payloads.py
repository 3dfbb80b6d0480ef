"""What a node gets to send: the payload built from a validated send body.

One builder for the API and the dashboard. Media are read, checked and kept first
(`sessions_app.media`), so the node gets a descriptor of a stored file, never a URL to fetch.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from typing import Any

from accounts.models import User
from node_agent.protocol import MEDIA_TYPES
from sessions_app.media.services import media_descriptor, media_store
from sessions_app.media.sources import MediaSource
from sessions_app.sessions.models import Session


def vcard_of(name: str, phone: str) -> str:
    """Return a vCard 3.0 for one name and E.164 digits (`waid` lets WhatsApp link the chat)."""
    # vCard 3.0 text-value escaping (RFC 2426, formal grammar): backslash, semicolon, comma
    # and line breaks, so a name can never start a property or a card of its own.
    escaped = (
        name.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )
    return f"BEGIN:VCARD\nVERSION:3.0\nFN:{escaped}\nTEL;type=CELL;waid={phone}:+{phone}\nEND:VCARD"


# The fields of a send body that are its content besides media (one per type that has one).
CONTENT_FIELDS = ("text", "location", "contact", "reaction", "edit", "revoke", "poll", "viewOnce")


def build_payload(
    *, owner: User, session: Session, values: dict[str, Any], upload: Any = None
) -> dict[str, Any]:
    """Return the node's payload (without `to`/`chatId`) of a validated send body.

    `values` are a send body's validated fields (`type`, `text`, `media`, `location`, `contact`,
    `reaction`, `edit`, `revoke`, `replyTo`, `mentions` as Recipients, `_upload` {mimetype?,
    filename?} naming a multipart `upload`). Media come out as `media{id, mimetype, filename,
    size, sha256}`; `mentions` as E.164 digits; a contact as `{name, vcard}`. Stores media
    first: raises the media errors of `sessions_app.media.services.media_store`.
    """
    type_ = values["type"]
    payload: dict[str, Any] = {"type": type_}
    if "text" in values:
        payload["text"] = values["text"]
    if values.get("viewOnce"):
        payload["viewOnce"] = True
    if values.get("replyTo"):
        payload["replyTo"] = values["replyTo"]
    if values.get("mentions"):
        payload["mentions"] = [m.to for m in values["mentions"]]
    if type_ in MEDIA_TYPES:
        given = values.get("media") or {}
        options = values.get("_upload") or {}
        source = MediaSource(
            url=given.get("url"),
            base64=given.get("base64"),
            upload=upload,
            mimetype=given.get("mimetype") or options.get("mimetype"),
            filename=given.get("filename") or options.get("filename"),
        )
        media = media_store(owner=owner, session=session, type_=type_, source=source)
        payload["media"] = media_descriptor(media)
        if type_ == "document" and not media.filename:
            extension = mimetypes.guess_extension(media.mimetype) or ""
            payload["media"]["filename"] = f"document{extension}"
    elif type_ == "location":
        payload["location"] = {k: v for k, v in values["location"].items() if v not in (None, "")}
    elif type_ == "contact":
        contact = values["contact"]
        vcard = contact.get("vcard") or vcard_of(contact["name"], contact["phone"])
        payload["contact"] = {"name": contact["name"], "vcard": vcard}
    elif type_ in ("reaction", "edit", "revoke", "poll"):
        payload[type_] = dict(values[type_])
    return payload


def request_fingerprint(*, session: Session, values: dict[str, Any], upload: Any = None) -> str:
    """Return the SHA-256 (hex) of what a validated send body asks for, before anything is read.

    Two requests with the same fingerprint ask for the same message: the same session, chat,
    type, text and fields, and media by the same URL, the same base64 text or an upload of the
    same bytes (hashed here, read from the local upload, never fetched). An idempotent repeat
    is recognised by it without downloading anything.
    """
    media = dict(values.get("media") or {})
    if "base64" in media:
        media["base64"] = hashlib.sha256(media["base64"].encode()).hexdigest()
    if upload is not None:
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        media.update(
            upload=digest.hexdigest(),
            name=getattr(upload, "name", None),
            contentType=getattr(upload, "content_type", None),
            **(values.get("_upload") or {}),
        )
    asked = {
        "sessionId": session.id,
        "chatId": values["to"].chat_jid,
        "type": values.get("type", "text"),
        "media": media or None,
        "mentions": [m.chat_jid for m in values.get("mentions") or []],
        **{key: values.get(key) for key in (*CONTENT_FIELDS, "replyTo")},
    }
    canonical = json.dumps(asked, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
