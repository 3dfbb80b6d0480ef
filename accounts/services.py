"""Writes for users and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import API_KEY_PREFIX, ApiKey, User, api_key_hash
from accounts.selectors import api_key_by_hash
from gateway.models import SystemLog, system_log
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_disconnect
from sessions_app.sessions.status import STARTING


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
    """Return the active key (with owner, plan, overrides and session) for `secret`, or None.

    A suspended owner's key is returned (the caller answers `account_suspended`).

    `last_used` is written at most once per API_KEY_LAST_USED_RESOLUTION_S seconds per key, so
    the hot send path does not pay a write on every request.
    """
    if not secret.startswith(API_KEY_PREFIX):
        return None
    api_key = api_key_by_hash(api_key_hash(secret))
    if api_key is None:
        return None
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_S)
    if api_key.last_used is None or now - api_key.last_used > resolution:
        ApiKey.objects.filter(id=api_key.id).update(last_used=now)
        api_key.last_used = now
    return api_key


def user_suspend(*, user: User, reason: str = "") -> int:
    """Suspend `user`: their keys answer 401 `account_suspended`, the dashboard logs them out,
    and every session holding or building a connection is disconnected (logins kept, so a
    reactivated user reconnects without a new scan). Returns how many sessions were stopped.
    Safe to repeat."""
    if user.suspended_at is None:
        user.suspended_at = timezone.now()
        User.objects.filter(id=user.id).update(suspended_at=user.suspended_at)
    stopped = 0
    holding = [*STARTING, Session.Status.CONNECTED]
    for session in Session.objects.filter(owner=user, status__in=holding):
        session_disconnect(owner=user, session=session)
        stopped += 1
    system_log(
        event="user.suspended",
        message=f"User suspended{': ' + reason if reason else ''}; {stopped} sessions stopped",
        user=user,
        level=SystemLog.Level.WARNING,
    )
    return stopped


def user_reactivate(*, user: User) -> None:
    """Lift a suspension: keys and the dashboard work again; sessions stay disconnected until
    their owner connects them."""
    User.objects.filter(id=user.id).update(suspended_at=None)
    user.suspended_at = None
    system_log(event="user.reactivated", message="User reactivated", user=user)
