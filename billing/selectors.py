"""Reads for usage accounting."""

from __future__ import annotations

from datetime import date

from django.db.models import Sum

from billing.models import UsageRecord


def usage_total(*, user: object, kind: str = UsageRecord.Kind.MESSAGE_OUT, since: date) -> int:
    """Return how many messages of `kind` the user was charged for since `since` (UTC days)."""
    total = UsageRecord.objects.filter(user=user, kind=kind, billing_date__gte=since).aggregate(
        total=Sum("count")
    )["total"]
    return total or 0
