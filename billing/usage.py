"""Reads of a user's usage: quota standing, usage per period, session and key, a daily series.

Where the figures come from:
- messages out by status: the message ledger (OutboundMessage), by the UTC day or month the
  message was accepted; a deleted session's messages go with it;
- `charged`: UsageRecord `message_out`, what billing counts (a message once it left `queued` for
  anything but `failed`; kept for deleted sessions and keys);
- messages in and number checks: UsageRecord `message_in` / `number_check` (per UTC day).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from billing.models import QuotaCounter, UsageRecord
from billing.selectors import Limits
from billing.services import QUOTA_THRESHOLDS, period_end
from gateway.timefmt import iso_utc
from sessions_app.messages.models import OutboundMessage

OUT_STATUSES = [s.value for s in OutboundMessage.Status]
GRANULARITIES = ("day", "month")
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


def usage_range(start: date | None, end: date | None) -> tuple[date, date]:
    """Return the UTC days (both included) a usage read covers: `end` default today, `start`
    default DEFAULT_RANGE_DAYS days up to `end`. Raises ValueError (its message for the user)
    when `start` is after `end`, the range is longer than MAX_RANGE_DAYS or `end` is the last
    day a date can name (its next day, where the range stops, does not exist)."""
    end = end or timezone.now().date()
    if end >= date.max:
        raise ValueError("`to` is too far in the future.")
    start = start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise ValueError("`from` is after `to`.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValueError(f"At most {MAX_RANGE_DAYS} days in one request.")
    return start, end


@dataclass(frozen=True)
class QuotaUse:
    """One quota now: `used` of `limit` (None: unlimited) in `period` ("day" or "month"),
    `percent` of it (0 when unlimited), `level` "ok", "warn" (≥ 80%) or "full" (≥ 100%), and
    when the period ends (UTC)."""

    period: str
    used: int
    limit: int | None
    percent: int
    level: str
    resets_at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "used": self.used,
            "limit": self.limit,
            "percent": self.percent,
            "level": self.level,
            "resetsAt": iso_utc(self.resets_at),
        }


def quota_standing(*, user: Any, limits: Limits) -> list[QuotaUse]:
    """Return the user's day and month quotas as they stand (one query). An unlimited quota
    still shows what was counted (ENTERPRISE users are not counted: 0)."""
    today = timezone.now().date()
    row = QuotaCounter.objects.filter(user_id=user.pk).first()
    used = {
        "day": row.day_count if row and row.day == today else 0,
        "month": row.month_count if row and row.month == today.replace(day=1) else 0,
    }
    caps = {"day": limits.messages_per_day, "month": limits.messages_per_month}
    standing = []
    for period in ("day", "month"):
        cap = caps[period]
        if cap is None:
            percent = 0
        else:  # a limit of 0 allows nothing: full from the start
            percent = min(100, used[period] * 100 // cap) if cap else 100
        level = "ok"
        if cap is not None and used[period] >= cap:
            level = "full"
        elif cap is not None and percent >= QUOTA_THRESHOLDS[0]:
            level = "warn"
        standing.append(
            QuotaUse(period, used[period], cap, percent, level, period_end(period, today))
        )
    return standing


def _blank() -> dict[str, Any]:
    return {"messagesOut": dict.fromkeys(OUT_STATUSES, 0), "charged": 0, "in": 0, "checks": 0}


def usage_rows(
    *,
    owner: Any,
    start: date,
    end: date,
    granularity: str = "day",
    session_id: str | None = None,
) -> list[dict[str, Any]]:
    """Return usage from `start` to `end` (UTC days, both included) per period, session and
    key, oldest first: `{period (YYYY-MM-DD, a month's first day), sessionId, apiKeyId,
    messagesOut {queued, sent, delivered, read, failed, total}, charged, messagesIn,
    numberChecks}`. Three grouped queries, whatever the range. `session_id` narrows to one
    session (a session-bound key's caller passes its session)."""
    trunc_dt = TruncDate if granularity == "day" else TruncMonth
    since = datetime.combine(start, time(), tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    ledger = OutboundMessage.objects.filter(
        owner=owner, created_at__gte=since, created_at__lt=until
    )
    records = UsageRecord.objects.filter(user=owner, billing_date__gte=start, billing_date__lte=end)
    if session_id:
        ledger = ledger.filter(session_id=session_id)
        records = records.filter(session_id=session_id)
    rows: dict[tuple[str, str | None, int | None], dict[str, Any]] = defaultdict(_blank)
    out = (
        ledger.annotate(period=trunc_dt("created_at", tzinfo=UTC))
        .values("period", "session_id", "api_key_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for item in out:
        key = (_day(item["period"]), item["session_id"], item["api_key_id"])
        rows[key]["messagesOut"][item["status"]] += item["n"]
    period_of = F("billing_date") if granularity == "day" else TruncMonth("billing_date")
    counted = (
        records.annotate(period=period_of)
        .values("period", "session_id", "api_key_id", "kind")
        .annotate(n=Sum("count"))
        .order_by()
    )
    field = {
        UsageRecord.Kind.MESSAGE_OUT: "charged",
        UsageRecord.Kind.MESSAGE_IN: "in",
        UsageRecord.Kind.NUMBER_CHECK: "checks",
    }
    for item in counted:
        key = (_day(item["period"]), item["session_id"], item["api_key_id"])
        rows[key][field[item["kind"]]] += item["n"] or 0
    return [
        _row(period, session, api_key, values)
        for (period, session, api_key), values in sorted(
            rows.items(), key=lambda pair: (pair[0][0], pair[0][1] or "", pair[0][2] or 0)
        )
    ]


def _day(value: date | datetime) -> str:
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _row(period: str, session: str | None, api_key: int | None, values: dict) -> dict:
    out = dict(values["messagesOut"], total=sum(values["messagesOut"].values()))
    return {
        "period": period,
        "sessionId": session,
        "apiKeyId": api_key,
        "messagesOut": out,
        "charged": values["charged"],
        "messagesIn": values["in"],
        "numberChecks": values["checks"],
    }


def usage_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum `usage_rows` output over periods, sessions and keys (same shape, no keys)."""
    total = {"messagesOut": dict.fromkeys([*OUT_STATUSES, "total"], 0)}
    total.update(charged=0, messagesIn=0, numberChecks=0)
    for row in rows:
        for status, n in row["messagesOut"].items():
            total["messagesOut"][status] += n
        for name in ("charged", "messagesIn", "numberChecks"):
            total[name] += row[name]
    return total


def usage_by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Group `usage_rows` output by `key` ("period" or "sessionId"), summed, in order."""
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return {value: usage_totals(group) for value, group in groups.items()}


def daily_series(rows: list[dict[str, Any]], start: date, end: date) -> dict[str, list]:
    """Return `{days, out, in}` for a chart: one entry per day from `start` to `end`, zeros
    where nothing happened (from `usage_rows` of day granularity)."""
    per_day = usage_by(rows, "period")
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    empty = {"messagesOut": {"total": 0}, "messagesIn": 0}
    return {
        "days": [d.isoformat() for d in days],
        "out": [per_day.get(d.isoformat(), empty)["messagesOut"]["total"] for d in days],
        "in": [per_day.get(d.isoformat(), empty)["messagesIn"] for d in days],
    }
