"""Rate limits: counted with `limits` (fixed windows), in Redis or in the embedded SQLite file.

Policies: `api` (API requests per minute per key; a dashboard login counts as one key), `checks`
(number checks per minute per session) and `auth` (failed API-key authentications per minute per
client address). A request's counted policies go out as the RateLimit-Policy and RateLimit header
fields of draft-ietf-httpapi-ratelimit-headers-10 (§ 4-5: `"api";q=120;w=60` and
`"api";r=119;t=42`).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis  # noqa: F401  (imported before any thread asks `limits` for it: _limiter)
from django.conf import settings
from limits import RateLimitItem, RateLimitItemPerSecond, storage, strategies
from limits.errors import StorageError

import billing.ratelimit_storage  # noqa: F401  (registers the `sqlite` scheme with limits)
from billing.errors import RateLimited

WINDOW_S = 60
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateState:
    """One policy after a request: `limit` per `window_s` seconds, `remaining` of it, the window
    ending in `reset_s` seconds; `allowed` False when this request went past the limit."""

    policy: str
    limit: int
    window_s: int
    remaining: int
    reset_s: int
    allowed: bool

    def refusal(self, what: str) -> RateLimited:
        return RateLimited(
            f"{what}: {self.limit} per {self.window_s} s; retry in {max(1, self.reset_s)} s.",
            retry_after_s=max(1, self.reset_s),
            limit=self.policy,
        )


_limiter_lock = threading.Lock()


@functools.cache
def _limiter() -> strategies.FixedWindowRateLimiter:
    # `limits` imports its Redis client lazily and reads its version from sys.modules: a thread
    # that came while another was still importing it found no version (ConfigurationError,
    # "found version 0.0.0": 500s on a fresh gunicorn worker's first requests). The client is
    # imported with this module, and the storage is built by one thread at a time.
    with _limiter_lock:
        store = storage.storage_from_string(settings.RATELIMIT_URL, wrap_exceptions=True)
        return strategies.FixedWindowRateLimiter(store)


def _item(policy: str, limit: int, window_s: int) -> RateLimitItem:
    namespace = f"{settings.RATELIMIT_KEY_PREFIX}:{policy}"
    return RateLimitItemPerSecond(limit, window_s, namespace=namespace)


def rate_hit(
    policy: str, *, limit: int, identity: str, window_s: int = WINDOW_S
) -> RateState | None:
    """Count one request of `identity` (e.g. "key:12") against `limit` per `window_s` seconds
    of `policy`. None when the counters cannot be reached: the request goes through uncounted
    (a Redis restart must not turn every API call into an error), with a warning logged."""
    item = _item(policy, limit, window_s)
    try:
        allowed = _limiter().hit(item, identity)
        return _state(policy, item, identity, allowed=allowed, window_s=window_s)
    except StorageError as exc:
        logger.warning("rate limits not counted (%s): %s", policy, exc)
        return None


def rate_refund(
    policy: str, *, limit: int, identity: str, window_s: int = WINDOW_S
) -> RateState | None:
    """Take back one request `rate_hit` counted for `identity` in `policy` (its work did not
    happen: e.g. the node refused a number check by its own spacing); returns the new state, or
    None when the counters cannot be reached. A negative cost is the fixed window's decrement."""
    item = _item(policy, limit, window_s)
    try:
        _limiter().hit(item, identity, cost=-1)
        return _state(policy, item, identity, allowed=True, window_s=window_s)
    except StorageError as exc:
        logger.warning("rate limits not refunded (%s): %s", policy, exc)
        return None


def rate_blocked(
    policy: str, *, limit: int, identity: str, window_s: int = WINDOW_S
) -> RateState | None:
    """Return `identity`'s state in `policy` if its limit is spent, else None; counts nothing
    (one read while the limit is not spent)."""
    item = _item(policy, limit, window_s)
    try:
        if _limiter().test(item, identity):
            return None
        return _state(policy, item, identity, allowed=False, window_s=window_s)
    except StorageError as exc:
        logger.warning("rate limits not read (%s): %s", policy, exc)
        return None


def _state(
    policy: str, item: RateLimitItem, identity: str, *, allowed: bool, window_s: int
) -> RateState:
    stats = _limiter().get_window_stats(item, identity)
    return RateState(
        policy=policy,
        limit=item.amount,
        window_s=window_s,
        remaining=stats.remaining,
        reset_s=max(0, math.ceil(stats.reset_time - time.time())),
        allowed=allowed,
    )


def ratelimit_headers(states: list[RateState]) -> dict[str, str]:
    """Return the RateLimit-Policy and RateLimit fields for `states` ({} for none)."""
    if not states:
        return {}
    return {
        "RateLimit-Policy": ", ".join(f'"{s.policy}";q={s.limit};w={s.window_s}' for s in states),
        "RateLimit": ", ".join(f'"{s.policy}";r={s.remaining};t={s.reset_s}' for s in states),
    }


def request_rate_states(request: Any) -> list[RateState]:
    """The states counted for this Django request so far (a list kept on the request)."""
    django_request = getattr(request, "_request", request)
    if not hasattr(django_request, "rate_states"):
        django_request.rate_states = []
    return django_request.rate_states
