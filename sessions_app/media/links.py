"""Signed, expiring links to media files, for receivers that have no API key (webhooks).

A link is `{PUBLIC_URL}/api/v1/media/{id}?token=<signed>`: the token is Django's signing of the
media id with the server's SECRET_KEY and a timestamp (`django.core.signing.TimestampSigner`),
so it opens that one file, cannot be forged or moved to another id, and expires after
MEDIA_URL_TTL_S seconds. Changing SECRET_KEY revokes every link.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.utils import timezone

from sessions_app.media.models import MediaFile

SALT = "sessions_app.media.link"
TOKEN_PARAM = "token"


def media_link(media: MediaFile) -> tuple[str, datetime]:
    """Return (url, expires_at) of a link that opens `media` without an API key."""
    token = signing.TimestampSigner(salt=SALT).sign(media.id)
    url = f"{settings.PUBLIC_URL}/api/v1/media/{media.id}?{urlencode({TOKEN_PARAM: token})}"
    return url, timezone.now() + timedelta(seconds=settings.MEDIA_URL_TTL_S)


def media_link_opens(*, media_id: str, token: str) -> bool:
    """Tell whether `token` is an unexpired link token of the media `media_id`."""
    try:
        signed_id = signing.TimestampSigner(salt=SALT).unsign(
            token, max_age=settings.MEDIA_URL_TTL_S
        )
    except signing.BadSignature:  # also SignatureExpired
        return False
    return signed_id == media_id
