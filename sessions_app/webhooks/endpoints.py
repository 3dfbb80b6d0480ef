"""Writes for webhook endpoints: create, change, disable, rotate the secret, delete."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing.selectors import limits_for, plan_limit_check
from gateway.netsafety import check_url
from sessions_app.sessions.models import Session
from sessions_app.webhooks.models import (
    ALL_EVENTS,
    OPT_IN_EVENTS,
    WebhookDelivery,
    WebhookEndpoint,
)
from sessions_app.webhooks.signing import secret_generate

logger = logging.getLogger(__name__)

D = WebhookDelivery.Status


def url_normalize(url: str) -> str:
    """Return `url` in a canonical form for telling duplicates apart.

    Lower-case scheme and host, the default port dropped, an empty path as `/`, no fragment.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def endpoint_create(
    *,
    owner: User,
    url: str,
    event_types: list[str],
    session: Session | None = None,
    description: str = "",
    hub_signature: bool = False,
    enabled: bool = True,
) -> WebhookEndpoint:
    """Register a webhook endpoint with a new secret (`endpoint.secret`, to show once).

    `session` None means every session of the owner. Raises UnsafeUrl (400 `unsafe_url`) for a
    URL that is not http(s) or reaches a loopback, private, link-local or metadata address, and
    PlanLimitReached (403) past the plan's `max_webhooks` endpoints per user; then nothing is
    written. The owner's row is locked so concurrent registrations are counted in turn.
    """
    checked = check_url(url)
    with transaction.atomic():
        User.objects.select_for_update().filter(id=owner.id).first()
        used = WebhookEndpoint.objects.filter(owner=owner).count()
        plan_limit_check(
            limits=limits_for(owner), limit="max_webhooks", used=used, what="webhook endpoints"
        )
        return WebhookEndpoint.objects.create(
            owner=owner,
            session=session,
            url=checked.url,
            url_normalized=url_normalize(checked.url),
            event_types=_event_types(event_types),
            description=description,
            hub_signature=hub_signature,
            enabled=enabled,
            secret=secret_generate(),
        )


def endpoint_update(*, owner: User, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change an endpoint's `url`, `event_types`, `description`, `hub_signature` or `enabled`.

    Enabling clears the disabled reason; disabling stops its pending deliveries (they can be
    replayed). Raises UnsafeUrl for a bad new URL.
    """
    if "url" in changes:
        checked = check_url(changes["url"])
        endpoint.url = checked.url
        endpoint.url_normalized = url_normalize(checked.url)
    if "event_types" in changes:
        endpoint.event_types = _event_types(changes["event_types"])
    for field in ("description", "hub_signature"):
        if field in changes:
            setattr(endpoint, field, changes[field])
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        if changes["enabled"]:
            endpoint.enabled = True
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
        else:
            endpoint.save()
            return endpoint_disable(endpoint=endpoint, reason="Disabled by its owner.")
    endpoint.save()
    return endpoint


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> WebhookEndpoint:
    """Disable an endpoint with a reason its owner sees; its pending deliveries fail.

    Safe to repeat (the first reason stays).
    """
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(id=endpoint.id, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=now, updated_at=now
        )
        if changed:
            WebhookDelivery.objects.filter(endpoint=endpoint, status=D.PENDING).update(
                status=D.FAILED,
                last_error="Endpoint disabled before this delivery was sent.",
                completed_at=now,
                next_attempt_at=None,
                replay_requested=False,
            )
    endpoint.refresh_from_db()
    if changed:
        logger.warning("webhook %s disabled: %s", endpoint.id, reason)
    return endpoint


def endpoint_rotate_secret(*, owner: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Give an endpoint a new secret; the old one keeps signing for WEBHOOK_SECRET_OVERLAP_S.

    During the overlap every delivery carries a signature with each secret (the Standard Webhooks
    spec allows several in `webhook-signature`). Returns the endpoint with the new `secret`.
    """
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.WEBHOOK_SECRET_OVERLAP_S
    )
    endpoint.secret = secret_generate()
    endpoint.save()
    return endpoint


def endpoint_delete(*, owner: User, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its deliveries and attempts."""
    WebhookEndpoint.objects.filter(id=endpoint.id, owner=owner).delete()


def endpoint_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """Return the secrets that sign a delivery now: the current one, then the previous one."""
    secrets_ = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets_.append(endpoint.previous_secret)
    return secrets_


def delivery_secrets(
    endpoint: WebhookEndpoint, *, event_type: str, session_id: str | None, now: datetime
) -> list[str]:
    """Return every secret that signs a delivery of `endpoint` now: its own, then those of the
    owner's other enabled endpoints with the same normalized URL that want this event (events
    make one delivery per URL, so each registration's secret must verify that one POST)."""
    secrets_ = endpoint_secrets(endpoint, now=now)
    twins = (
        WebhookEndpoint.objects.filter(
            owner_id=endpoint.owner_id, url_normalized=endpoint.url_normalized, enabled=True
        )
        .exclude(id=endpoint.id)
        .order_by("created_at")
    )
    for twin in twins:
        if twin.wants(event_type) and twin.session_id in (None, session_id):
            secrets_ += [s for s in endpoint_secrets(twin, now=now) if s not in secrets_]
    return secrets_


def _event_types(values: list[str]) -> list[str]:
    types = list(dict.fromkeys(values))
    if ALL_EVENTS in types or not types:  # `*` and the opt-in types it leaves out, if named
        return [ALL_EVENTS, *sorted(set(types) & OPT_IN_EVENTS)]
    return sorted(types)
