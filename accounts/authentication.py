"""DRF authentication by API key: `Authorization: Bearer wag_…` or `X-API-Key: wag_…`.

Failed authentications are counted per client address (`auth` rate policy); past
API_AUTH_FAILURES_PER_MINUTE the address gets 429 `rate_limited` until its minute ends, valid key
or not, so keys cannot be guessed at speed. A suspended user's keys answer 401
`account_suspended`.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import API_KEY_PREFIX
from accounts.services import api_key_authenticate
from billing.errors import AccountSuspended
from billing.ratelimits import rate_blocked, rate_hit, request_rate_states


def api_key_secret(headers: Any) -> str:
    """Return the API key a request carries (`X-API-Key`, or `Authorization: Bearer wag_…`),
    or "" when it carries none. `headers`: a case-insensitive mapping of its headers."""
    secret = (headers.get("X-API-Key") or "").strip()
    if secret:
        return secret
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip().startswith(API_KEY_PREFIX):
        return ""
    return value.strip()


def api_key_check(secret: str, address: str, rate_states: list[Any] | None = None) -> Any:
    """Return the active ApiKey of `secret` for a client at `address`, counting a failure
    against the address (module docstring). Raises RateLimited (429), AuthenticationFailed
    (401) or AccountSuspended (401); `rate_states` collects the rate states it counted."""
    limit = settings.API_AUTH_FAILURES_PER_MINUTE
    blocked = rate_blocked("auth", limit=limit, identity=address)
    if blocked is not None:
        if rate_states is not None:
            rate_states.append(blocked)
        raise blocked.refusal("Too many failed API-key authentications from this address")
    api_key = api_key_authenticate(secret=secret)
    if api_key is None:
        counted = rate_hit("auth", limit=limit, identity=address)
        if counted is not None and rate_states is not None:
            rate_states.append(counted)
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    if api_key.owner.suspended_at is not None:
        raise AccountSuspended()
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by API key; `request.auth` is the ApiKey."""

    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        secret = api_key_secret(request.headers)
        if not secret:
            return None
        address = get_client_ip_address(request) or "unknown"
        api_key = api_key_check(secret, address, request_rate_states(request))
        return api_key.owner, api_key

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "API key `wag_…`"}
