"""Writes for usage accounting and quotas."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import User
from billing.errors import QuotaExceeded
from billing.models import QuotaCounter, UsageRecord
from billing.selectors import Limits
from sessions_app.messages.models import OutboundMessage


def usage_record_add(
    *,
    user_id: int,
    session_id: str | None,
    api_key_id: int | None,
    kind: str = UsageRecord.Kind.MESSAGE_OUT,
    billing_date: date,
    count: int = 1,
) -> None:
    """Add `count` to the day's usage row for this user, session and key (creating it).

    Concurrent callers never lose an increment: the row is updated in place with `F()`, and a
    racing insert falls back to the update.
    """
    keys = {
        "user_id": user_id,
        "session_id": session_id,
        "api_key_id": api_key_id,
        "kind": kind,
        "billing_date": billing_date,
    }
    if UsageRecord.objects.filter(**keys).update(count=F("count") + count):
        return
    try:
        with transaction.atomic():
            UsageRecord.objects.create(count=count, **keys)
    except IntegrityError:
        UsageRecord.objects.filter(**keys).update(count=F("count") + count)


# --- Quotas ---------------------------------------------------------------------------------

# One of the two quotas without a limit still counts, up to the column's largest value.
_NO_LIMIT = 2**31 - 1
_COUNT_SQL = """
UPDATE {table} SET
    day_count = (CASE WHEN day = %(day)s THEN day_count ELSE 0 END) + %(n)s,
    month_count = (CASE WHEN month = %(month)s THEN month_count ELSE 0 END) + %(n)s,
    day = %(day)s,
    month = %(month)s
WHERE user_id = %(user)s
    AND (CASE WHEN day = %(day)s THEN day_count ELSE 0 END) + %(n)s <= %(day_limit)s
    AND (CASE WHEN month = %(month)s THEN month_count ELSE 0 END) + %(n)s <= %(month_limit)s
RETURNING day_count, month_count
"""
# Shares of a quota at which the user is told (a banner, a `usage.threshold` webhook event).
QUOTA_THRESHOLDS = (80, 100)


@dataclass(frozen=True)
class QuotaCrossing:
    """A send took the `period` ("day" or "month") quota to `percent` (80 or 100) of `limit`:
    `used` sends counted now, the period ends at `resets_at` (UTC)."""

    period: str
    percent: int
    limit: int
    used: int
    resets_at: datetime


def _crossings(limits: Limits, day: date, counts: tuple[int, int], n: int) -> list[QuotaCrossing]:
    found = []
    for period, limit, used in (
        ("day", limits.messages_per_day, counts[0]),
        ("month", limits.messages_per_month, counts[1]),
    ):
        for percent in QUOTA_THRESHOLDS if limit else ():
            mark = math.ceil(limit * percent / 100)
            if used - n < mark <= used:
                found.append(QuotaCrossing(period, percent, limit, used, period_end(period, day)))
    return found


def period_end(period: str, day: date) -> datetime:
    """When the UTC `period` ("day" or "month") holding `day` ends."""
    if period == "day":
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(next_month, time(), tzinfo=UTC)


def quota_consume(*, user_id: int, limits: Limits, count: int = 1) -> list[QuotaCrossing]:
    """Count `count` accepted sends against the user's quotas of the UTC day and month.

    Call it inside the transaction that records the sends, as its last statement: the row stays
    locked until commit (so concurrent sends in any process are counted one after the other and
    exactly `messages_per_day` pass), and a rollback takes the count back. One UPDATE; a user's
    first send also inserts the row. Raises QuotaExceeded (naming the period and when it resets)
    and then counts nothing. A user with neither quota (ENTERPRISE) is not counted at all (no
    query, no row lock shared by the user's concurrent sends); when such a user gets a quota,
    `quota_recount` brings the row up to date (the admin does so on a plan or override change).

    Returns the thresholds (QUOTA_THRESHOLDS, % of a quota) these sends crossed, each once per
    period: the same UPDATE returns the new counts, so telling costs no query.
    """
    if limits.messages_per_day is None and limits.messages_per_month is None:
        return []
    now = timezone.now()
    day = now.date()
    params = {
        "user": user_id,
        "n": count,
        "day": day,
        "month": day.replace(day=1),
        "day_limit": _NO_LIMIT if limits.messages_per_day is None else limits.messages_per_day,
        "month_limit": (
            _NO_LIMIT if limits.messages_per_month is None else limits.messages_per_month
        ),
    }
    sql = _COUNT_SQL.format(table=connection.ops.quote_name(QuotaCounter._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        counts = cursor.fetchone()
        if counts is None and not QuotaCounter.objects.filter(user_id=user_id).exists():
            try:
                with transaction.atomic():
                    QuotaCounter.objects.create(user_id=user_id, day=day, month=day.replace(day=1))
            except IntegrityError:
                pass  # another send created it first
            cursor.execute(sql, params)
            counts = cursor.fetchone()
    if counts is not None:
        return _crossings(limits, day, counts, count)
    raise _quota_exceeded(user_id=user_id, limits=limits, count=count, day=day)


def quota_precheck(*, user_id: int, limits: Limits, count: int = 1) -> None:
    """Raise QuotaExceeded if `count` more sends would pass a quota as it stands now, counting
    nothing: for a caller about to do work it would throw away (read or download media).
    `quota_consume` stays the exact check. One read; none for a user without quotas."""
    if limits.messages_per_day is None and limits.messages_per_month is None:
        return
    day = timezone.now().date()
    row = QuotaCounter.objects.filter(user_id=user_id).first()
    if row is None:
        return
    used_day = row.day_count if row.day == day else 0
    used_month = row.month_count if row.month == day.replace(day=1) else 0
    day_cap, month_cap = limits.messages_per_day, limits.messages_per_month
    if (day_cap is not None and used_day + count > day_cap) or (
        month_cap is not None and used_month + count > month_cap
    ):
        raise _quota_exceeded(user_id=user_id, limits=limits, count=count, day=day)


def _quota_exceeded(*, user_id: int, limits: Limits, count: int, day: date) -> QuotaExceeded:
    row = QuotaCounter.objects.get(user_id=user_id)
    used_today = row.day_count if row.day == day else 0
    if limits.messages_per_day is not None and used_today + count > limits.messages_per_day:
        return QuotaExceeded(
            period="day", limit=limits.messages_per_day, resets_at=period_end("day", day)
        )
    return QuotaExceeded(
        period="month",
        limit=limits.messages_per_month or 0,
        resets_at=period_end("month", day),
    )


def quota_recount(*, user_id: int) -> None:
    """Set the user's quota row to the sends accepted today and this month (UTC), counted
    from the message ledger: after a plan change, so a quota that starts to apply starts from
    the true count. Safe to repeat."""
    _quota_recount([user_id])


def quota_recount_plan(*, tier: str) -> int:
    """Recount the quota rows of every user on the plan `tier` (after an operator edits the
    plan's limits), in three queries whatever the number of users. Returns how many."""
    user_ids = list(User.objects.filter(plan_id=tier).values_list("id", flat=True))
    _quota_recount(user_ids)
    return len(user_ids)


def _quota_recount(user_ids: list[int]) -> None:
    if not user_ids:
        return
    day = timezone.now().date()
    month = day.replace(day=1)
    month_start = datetime.combine(month, time(), tzinfo=UTC)
    day_start = datetime.combine(day, time(), tzinfo=UTC)
    counts = {
        row["owner_id"]: row
        for row in OutboundMessage.objects.filter(
            owner_id__in=user_ids, created_at__gte=month_start
        )
        .values("owner_id")
        .annotate(month_n=Count("id"), day_n=Count("id", filter=Q(created_at__gte=day_start)))
        .order_by()
    }
    rows = [
        QuotaCounter(
            user_id=user_id,
            day=day,
            day_count=counts.get(user_id, {}).get("day_n", 0),
            month=month,
            month_count=counts.get(user_id, {}).get("month_n", 0),
        )
        for user_id in user_ids
    ]
    QuotaCounter.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["day", "day_count", "month", "month_count"],
    )
