"""Every error of plans and limits, with its stable code (part of the public API)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from gateway.errors import GatewayError
from gateway.metrics import rate_limit_refused
from gateway.timefmt import iso_utc


class RateLimited(GatewayError):
    """429: a rate (requests or number checks per minute) is spent; `Retry-After` says when."""

    code = "rate_limited"
    message = "Too many requests."
    http_status = 429

    def __init__(self, message: str | None = None, *, retry_after_s: int, limit: str) -> None:
        super().__init__(
            message or f"Rate limit {limit} reached; retry in {retry_after_s} s.",
            fields={"limit": limit, "retryAfter": retry_after_s},
        )
        self.headers = {"Retry-After": str(retry_after_s)}
        self.retry_after_s = retry_after_s
        rate_limit_refused(self.code, limit)  # made only to be raised: one per refusal


class QuotaExceeded(GatewayError):
    """429: the plan's messages for the day or the month are used up until `resets_at`."""

    code = "quota_exceeded"
    http_status = 429

    def __init__(self, *, period: str, limit: int, resets_at: datetime) -> None:
        retry_after_s = max(1, int((resets_at - timezone.now()).total_seconds()))
        super().__init__(
            f"The plan's {limit} messages per {period} are used up; the quota resets at "
            f"{iso_utc(resets_at)}.",
            fields={"period": period, "limit": limit, "resetsAt": iso_utc(resets_at)},
        )
        self.headers = {"Retry-After": str(retry_after_s)}
        self.retry_after_s = retry_after_s
        rate_limit_refused(self.code, period)


class PlanLimitReached(GatewayError):
    """403: a count the plan caps (sessions, webhooks) is reached, or an engine it leaves out."""

    code = "plan_limit_reached"
    http_status = 403

    def __init__(self, message: str, *, limit: str, value: int | str | None) -> None:
        super().__init__(message, fields={"limit": limit, "value": value})


class EngineDisabled(GatewayError):
    """403: the operator switched this engine off for the whole deployment."""

    code = "engine_disabled"
    http_status = 403


class AccountSuspended(GatewayError):
    """401: an operator suspended the key's user."""

    code = "account_suspended"
    message = "This account is suspended; contact the operator of this gateway."
    http_status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="api"'}
