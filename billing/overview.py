"""The operators' overview page in Django admin (`/admin/overview`): the platform at a glance.

Users, sessions by status, messages accepted today, nodes up, users near a quota (80% or more
of today's or this month's), and this month's usage per user (the top 50 by messages out).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import User
from billing.models import QuotaCounter, UsageRecord
from billing.selectors import limits_for
from billing.usage import quota_standing
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from workers_app.models import Worker

TOP_USERS = 50


def _near_quota() -> list[dict[str, Any]]:
    today = timezone.now().date()
    counted = QuotaCounter.objects.filter(Q(day=today) | Q(month=today.replace(day=1)))
    near = []
    for counter in counted.select_related("user__plan", "user__plan_override"):
        for quota in quota_standing(user=counter.user, limits=limits_for(counter.user)):
            if quota.level != "ok":
                near.append({"user": counter.user, "quota": quota})
    return sorted(near, key=lambda item: -item["quota"].percent)


def overview(request: HttpRequest) -> HttpResponse:
    """Render the overview (staff only: wrapped in `admin.site.admin_view` by the URL map)."""
    now = timezone.now()
    month = now.date().replace(day=1)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    by_status = dict(
        Session.objects.values_list("status").annotate(n=Count("id")).order_by("status")
    )
    monthly = (
        UsageRecord.objects.filter(billing_date__gte=month)
        .values("user__email", "user__plan")
        .annotate(
            out=Sum("count", filter=Q(kind=UsageRecord.Kind.MESSAGE_OUT)),
            incoming=Sum("count", filter=Q(kind=UsageRecord.Kind.MESSAGE_IN)),
            checks=Sum("count", filter=Q(kind=UsageRecord.Kind.NUMBER_CHECK)),
        )
        .order_by("-out")[:TOP_USERS]
    )
    context = {
        **admin.site.each_context(request),
        "title": "Overview",
        "users": User.objects.filter(is_active=True).count(),
        "suspended": User.objects.filter(suspended_at__isnull=False).count(),
        "sessions_by_status": sorted(by_status.items()),
        "messages_today": OutboundMessage.objects.filter(created_at__gte=day_start).count(),
        "nodes_up": Worker.objects.online().count(),
        "nodes": Worker.objects.count(),
        "near_quota": _near_quota(),
        "monthly": list(monthly),
        "month": month,
    }
    return TemplateResponse(request, "admin/overview.html", context)
