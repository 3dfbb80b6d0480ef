"""The protocol's building blocks: node ids and queues, message types, JIDs, and `Wire`, the
camelCase conversion every task and report uses (node_agent/protocol.py defines those and
re-exports all of this). Standard library only: the backend imports it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

W = TypeVar("W", bound="Wire")

# --- Queues and node ids -----------------------------------------------------------------------

NODE_QUEUE_PREFIX = "node."


def node_queue(worker_id: str) -> str:
    """Return the Celery queue a node consumes: `node.<workerId>`."""
    return f"{NODE_QUEUE_PREFIX}{worker_id}"


def heartbeat_path(worker_id: str) -> str:
    """Return the path a node PUTs its heartbeat to."""
    return f"/api/admin/workers/{worker_id}/heartbeat"


def media_download_path(media_id: str) -> str:
    """Return the path a node GETs a file to send from (`media.id` of a payload)."""
    return f"/api/internal/media/{media_id}"


# A node id (WORKER_ID): 1-64 ASCII letters, digits, `_`, `.` or `-`, starting with a letter or
# digit. It names the node's queue and its URLs; the node refuses to start with another, and the
# backend refuses to register one.
WORKER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
# Fixed segments of the operator routes under /api/admin/workers/: a node with such an id could
# not be reached at /api/admin/workers/<id> (a test checks the list against the URLconf).
RESERVED_WORKER_IDS = frozenset({"register", "rebalance"})


def worker_id_error(worker_id: str) -> str | None:
    """Return why `worker_id` is not a valid node id, or None when it is."""
    if not WORKER_ID_PATTERN.fullmatch(worker_id):
        return (
            "must be 1-64 ASCII letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    if worker_id in RESERVED_WORKER_IDS:
        return f"{worker_id!r} is reserved by the backend's API"
    return None


# --- Messages and JIDs -------------------------------------------------------------------------

# Every message type: the backend accepts these on POST /api/v1/messages and a
# node hands them to its engine.
MEDIA_TYPES = ("image", "video", "audio", "voice", "document", "sticker")
MESSAGE_TYPES = ("text", *MEDIA_TYPES, "location", "contact", "reaction", "edit", "revoke")
MESSAGE_TYPES += ("poll",)

# Keys of an incoming message that are its content: kept in the node's history and passed on in
# the message-received report.
INCOMING_CONTENT_KEYS = tuple(
    "text media location contact reaction quotedId mentions pushName isGroup senderJid fromPhone"
    " fromLid viewOnce".split()
)
# A file on the wire (a send payload's `media`, an upload's answer): what the backend keeps of it.
MEDIA_DESCRIPTOR_KEYS = ("id", "mimetype", "filename", "size", "sha256")

# The server of a phone number's JID (`<E.164 digits>@s.whatsapp.net`); `c.us` is its legacy name.
USER_SERVER = "s.whatsapp.net"


def digits(value: object) -> str:
    """Return only the ASCII digits of `value` as text ("+62 812-0" → "628120")."""
    return "".join(c for c in str(value or "") if c in "0123456789")


def user_jid(phone: object) -> str:
    """Return the user JID of a phone number (its digits) on WhatsApp's user server."""
    return f"{digits(phone)}@{USER_SERVER}"


# --- Wire conversion ---------------------------------------------------------------------------


def camel(name: str) -> str:
    """Return the wire name of a field: `qr_expires_at` → `qrExpiresAt`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclasses.dataclass(frozen=True)
class Wire:
    """A message of the protocol; fields are snake_case, the wire form is camelCase JSON.

    `DROP_NONE`: fields whose value is None are left out of the wire form (reports) rather
    than sent as null (task arguments)."""

    DROP_NONE: ClassVar[bool] = False

    def to_wire(self) -> dict[str, Any]:
        """Return the camelCase dict sent on the wire."""
        values = ((camel(item.name), getattr(self, item.name)) for item in dataclasses.fields(self))
        return {key: value for key, value in values if value is not None or not self.DROP_NONE}

    @classmethod
    def from_wire(cls: type[W], body: Mapping[str, Any]) -> W:
        """Read the wire form; unknown keys are ignored (a newer peer), missing ones defaulted.

        Raises TypeError when a required field is missing."""
        names = {camel(item.name): item.name for item in dataclasses.fields(cls)}
        return cls(**{names[key]: value for key, value in body.items() if key in names})

    @classmethod
    def wire_fields(cls) -> tuple[str, ...]:
        """Return the camelCase names of the fields (the backend's serializers must match)."""
        return tuple(camel(item.name) for item in dataclasses.fields(cls))
