"""Public ids of the app's rows: a prefix and random lowercase letters and digits."""

from __future__ import annotations

import secrets
import string

ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int) -> str:
    """Return `prefix` + `length` random characters of ALPHABET (5.17 bits each), URL-safe."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_session_id() -> str:
    """Return a session id: `ses_` + 16 characters (82 bits)."""
    return new_id("ses_", 16)


def new_message_id() -> str:
    """Return a message id: `msg_` + 20 characters (103 bits)."""
    return new_id("msg_", 20)


def new_media_id() -> str:
    """Return a media id: `med_` + 20 characters (103 bits)."""
    return new_id("med_", 20)


def new_endpoint_id() -> str:
    """Return a webhook endpoint id: `whk_` + 16 characters."""
    return new_id("whk_", 16)


def new_event_id() -> str:
    """Return a webhook event id: `evt_` + 24 characters (124 bits)."""
    return new_id("evt_", 24)


def new_delivery_id() -> str:
    """Return a webhook delivery id: `whd_` + 20 characters."""
    return new_id("whd_", 20)
