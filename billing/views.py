"""Dashboard pages of billing: the Usage page and its CSV export."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.views import HtmxHttpRequest, dashboard_login_required
from billing.selectors import limits_for
from billing.usage import daily_series, quota_standing, usage_by, usage_range, usage_rows
from sessions_app.sessions.models import Session

CSV_COLUMNS = [
    "period",
    "session_id",
    "session_name",
    "api_key_id",
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "messages_out",
    "charged",
    "messages_in",
    "number_checks",
]


def _range(request: HtmxHttpRequest) -> tuple[date, date]:
    """`from`/`to` of the query (YYYY-MM-DD), as billing.usage.usage_range reads them; a bad
    or too long range shows the default one (a page has no error answer to give)."""
    try:
        start = date.fromisoformat(request.GET["from"]) if request.GET.get("from") else None
        end = date.fromisoformat(request.GET["to"]) if request.GET.get("to") else None
        return usage_range(start, end)
    except ValueError:
        return usage_range(None, None)


def _names(owner: Any) -> dict[str, str]:
    return dict(Session.objects.for_owner(owner).values_list("id", "name"))


@dashboard_login_required
@require_GET
def usage_page(request: HtmxHttpRequest) -> HttpResponse:
    """The plan, quota bars for today and this month, a 30-day chart of messages in and out,
    and a table per session for the range."""
    start, end = _range(request)
    limits = limits_for(request.user)
    rows = usage_rows(owner=request.user, start=start, end=end)
    names = _names(request.user)
    sessions = [
        {"id": sid, "name": names.get(sid, "(deleted session)"), **totals}
        for sid, totals in usage_by(rows, "sessionId").items()
    ]
    context = {
        "limits": limits,
        "quotas": quota_standing(user=request.user, limits=limits),
        "chart": daily_series(rows, start, end),
        "sessions": sessions,
        "start": start,
        "end": end,
    }
    return render(request, "billing/usage.html", context)


@dashboard_login_required
@require_GET
def usage_csv(request: HtmxHttpRequest) -> HttpResponse:
    """The range's usage per day, session and key as CSV (CSV_COLUMNS), for a spreadsheet."""
    start, end = _range(request)
    names = _names(request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for row in usage_rows(owner=request.user, start=start, end=end):
        out = row["messagesOut"]
        name = names.get(row["sessionId"] or "", "")
        writer.writerow(
            [
                row["period"],
                row["sessionId"] or "",
                # A leading =, +, - or @ would be a formula to a spreadsheet: quote it.
                f"'{name}" if name[:1] in ("=", "+", "-", "@") else name,
                row["apiKeyId"] or "",
                *(out[s] for s in ("queued", "sent", "delivered", "read", "failed", "total")),
                row["charged"],
                row["messagesIn"],
                row["numberChecks"],
            ]
        )
    return response
