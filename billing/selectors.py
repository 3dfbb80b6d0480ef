"""Reads for plans and usage accounting."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Sum

from billing.errors import EngineDisabled, PlanLimitReached
from billing.models import UsageRecord


@dataclass(frozen=True)
class Limits:
    """One user's effective limits: the plan's, with the operator's overrides. None: unlimited.

    Units as billing.Plan gives them; `engines` empty means every engine.
    """

    tier: str
    max_sessions: int | None
    messages_per_day: int | None
    messages_per_month: int | None
    send_rate_per_s: float | None
    send_burst: int
    api_requests_per_minute: int | None
    number_checks_per_minute: int | None
    max_webhooks: int | None
    engines: tuple[str, ...]

    def engine_allowed(self, engine: str) -> bool:
        return not self.engines or engine in self.engines


_OVERRIDABLE = [f.name for f in fields(Limits) if f.name not in ("tier", "engines")]


def limits_for(user: Any) -> Limits:
    """Return `user`'s effective limits.

    No query when the user was loaded with `plan` and `plan_override` (the API key lookup does
    so); otherwise one query for each that is not loaded yet. Always current: nothing is cached
    beyond the user object, so an operator's change applies to the next request.
    """
    plan = user.plan
    try:
        override = user.plan_override
    except ObjectDoesNotExist:
        override = None
    values: dict[str, Any] = {}
    for name in _OVERRIDABLE:
        value = getattr(override, name, None) if override is not None else None
        values[name] = getattr(plan, name) if value is None else value
    return Limits(tier=plan.tier, engines=tuple(plan.engines or ()), **values)


def usage_total(*, user: object, kind: str = UsageRecord.Kind.MESSAGE_OUT, since: date) -> int:
    """Return how many messages of `kind` the user was charged for since `since` (UTC days)."""
    total = UsageRecord.objects.filter(user=user, kind=kind, billing_date__gte=since).aggregate(
        total=Sum("count")
    )["total"]
    return total or 0


def plan_limit_check(*, limits: Limits, limit: str, used: int, what: str) -> None:
    """Raise PlanLimitReached (403) if one more of `what` would pass `limit` (a Limits field
    naming a count, e.g. "max_sessions") with `used` held now."""
    cap = getattr(limits, limit)
    if cap is not None and used + 1 > cap:
        raise PlanLimitReached(
            f"This account may hold at most {cap} {what} (its {limits.tier} plan, or an "
            "operator's override for it); remove one or ask for a larger plan.",
            limit=limit,
            value=cap,
        )


def engine_check(*, limits: Limits, engine: str) -> None:
    """Raise EngineDisabled if this deployment runs no `engine` (ENGINES_ENABLED), or
    PlanLimitReached if the user's plan leaves it out."""
    if engine not in settings.ENGINES_ENABLED:
        raise EngineDisabled(
            f"The {engine} engine is switched off on this gateway.", fields={"engine": engine}
        )
    if not limits.engine_allowed(engine):
        raise PlanLimitReached(
            f"The {limits.tier} plan does not include the {engine} engine.",
            limit="engines",
            value=engine,
        )
