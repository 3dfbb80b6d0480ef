"""Monthly statements: one row per user and closed month, what a bill would be made from.

No payment provider is wired in. The one place to hook one in is the `statement_closed`
signal: it is sent once per new statement, inside the transaction that stores it, with
`statement` (a MonthlyStatement). A receiver may set `amount_due` and save it, or hand the row
to a provider (on commit: `transaction.on_commit`). Connect it from an app's `ready()`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import User
from billing.models import MonthlyStatement, UsageRecord
from billing.selectors import limits_for

statement_closed = Signal()  # sent with `statement`: see the module's docstring

STATEMENT_CSV_COLUMNS = [
    "month",
    "user_email",
    "tier",
    "messages_out",
    "messages_in",
    "number_checks",
    "included",
    "overage",
    "amount_due",
]
_KINDS = {
    UsageRecord.Kind.MESSAGE_OUT: "messages_out",
    UsageRecord.Kind.MESSAGE_IN: "messages_in",
    UsageRecord.Kind.NUMBER_CHECK: "number_checks",
}


def previous_month(today: date | None = None) -> date:
    """The first day of the month before `today`'s (UTC)."""
    first = (today or timezone.now().date()).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


@transaction.atomic
def statement_close(*, user: User, month: date) -> tuple[MonthlyStatement, bool]:
    """Store `user`'s statement of `month` (its first day) from the usage records: messages
    out as charged, in, number checks; `included` the plan's monthly quota now (statements are
    closed just after the month), `overage` what went past it. Returns (statement, created);
    a month already closed is returned as it was (a statement does not change once made)."""
    existing = MonthlyStatement.objects.filter(user=user, month=month).first()
    if existing is not None:
        return existing, False
    end = (month + timedelta(days=32)).replace(day=1)
    counts = dict.fromkeys(_KINDS.values(), 0)
    rows = (
        UsageRecord.objects.filter(user=user, billing_date__gte=month, billing_date__lt=end)
        .values("kind")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for row in rows:
        counts[_KINDS[row["kind"]]] = row["n"] or 0
    included = limits_for(user).messages_per_month
    overage = max(0, counts["messages_out"] - included) if included is not None else 0
    statement = MonthlyStatement.objects.create(
        user=user,
        month=month,
        tier=user.plan_id,
        included=included,
        overage=overage,
        **counts,
    )
    statement_closed.send(sender=MonthlyStatement, statement=statement)
    return statement, True


def statements_close(*, month: date | None = None) -> int:
    """Close `month` (default: the previous one) for every user with usage in it; return how
    many statements were made now. Safe to repeat (beat runs it daily)."""
    month = month or previous_month()
    end = (month + timedelta(days=32)).replace(day=1)
    users = User.objects.filter(
        usage_records__billing_date__gte=month, usage_records__billing_date__lt=end
    ).distinct()
    return sum(statement_close(user=user, month=month)[1] for user in users)


def statements_csv(statements: Iterable[MonthlyStatement], out: Any) -> None:
    """Write `statements` (with `user` loaded) as CSV (STATEMENT_CSV_COLUMNS) to `out`."""
    writer = csv.writer(out)
    writer.writerow(STATEMENT_CSV_COLUMNS)
    for s in statements:
        writer.writerow(
            [
                f"{s.month:%Y-%m}",
                s.user.email,
                s.tier,
                s.messages_out,
                s.messages_in,
                s.number_checks,
                "" if s.included is None else s.included,
                s.overage,
                "" if s.amount_due is None else s.amount_due,
            ]
        )
