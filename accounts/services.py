"""Writes for users and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import API_KEY_PREFIX, ApiKey, User, api_key_hash
from gateway.models import system_log


@dataclass(frozen=True)
class IssuedApiKey:
    """A freshly created key: `secret` is the only time the full key exists outside the caller."""

    api_key: ApiKey
    secret: str


def user_create(*, email: str, password: str | None = None, name: str = "") -> User:
    """Create a tenant. An empty password leaves it unusable (API-only user)."""
    return User.objects.create_user(email=email, password=password, name=name)


@transaction.atomic
def api_key_create(*, owner: User, name: str, session: object | None = None) -> IssuedApiKey:
    """Create an API key for `owner`, optionally bound to one of the owner's sessions.

    Returns the key with its secret (`wag_` + 40 URL-safe characters); only its SHA-256 is stored,
    so the secret cannot be shown again. The session, when given, must belong to `owner`.
    """
    secret = API_KEY_PREFIX + secrets.token_urlsafe(30)
    api_key = ApiKey.objects.create(
        owner=owner,
        session=session,
        name=name or "API key",
        prefix=secret[:12],
        key_hash=api_key_hash(secret),
    )
    system_log(
        event="api_key.created",
        message=f"API key {api_key.prefix}… created",
        user=owner,
        session_id=getattr(session, "id", "") or "",
        api_key_id=api_key.id,
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, owner: User, api_key_id: int) -> bool:
    """Deactivate one of `owner`'s keys; return whether an active key of theirs was revoked.

    Safe to repeat; another owner's key id revokes nothing.
    """
    updated = ApiKey.objects.for_owner(owner).filter(id=api_key_id, is_active=True)
    if not updated.update(is_active=False):
        return False
    system_log(event="api_key.revoked", message="API key revoked", user=owner)
    return True


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """Return the active key (with owner and session) for `secret`, or None.

    `last_used` is written at most once per API_KEY_LAST_USED_RESOLUTION_S seconds per key, so
    the hot send path does not pay a write on every request.
    """
    if not secret.startswith(API_KEY_PREFIX):
        return None
    api_key = (
        ApiKey.objects.select_related("owner", "session")
        .filter(key_hash=api_key_hash(secret), is_active=True, owner__is_active=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_S)
    if api_key.last_used is None or now - api_key.last_used > resolution:
        ApiKey.objects.filter(id=api_key.id).update(last_used=now)
        api_key.last_used = now
    return api_key
