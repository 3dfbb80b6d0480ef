"""The quota banner of every dashboard page: shown at 80% and at 100% of a quota."""

from __future__ import annotations

from typing import Any

from django.utils.functional import SimpleLazyObject

from billing.selectors import limits_for
from billing.usage import quota_standing


def quota_banner(request: Any) -> dict[str, Any]:
    """`quota_alerts`: the quotas at "warn" or "full" for the logged-in user. Lazy: only a
    page that shows it (base.html, not the htmx fragments) pays its queries."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def alerts() -> list[Any]:
        standing = quota_standing(user=user, limits=limits_for(user))
        return [quota for quota in standing if quota.level != "ok"]

    return {"quota_alerts": SimpleLazyObject(alerts)}
