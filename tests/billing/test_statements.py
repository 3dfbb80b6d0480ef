"""Monthly statements (rows, CSV, the payment hook) and the operators' overview page."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from billing.models import MonthlyStatement, PlanOverride, QuotaCounter, UsageRecord
from billing.services import usage_record_add
from billing.statements import statement_closed, statements_close
from tests.factories import ConnectedSessionFactory, UserFactory, WorkerFactory

pytestmark = pytest.mark.django_db
NOVEMBER = date(2026, 11, 1)


def _usage(user, kind, n, day):
    usage_record_add(
        user_id=user.id, session_id=None, api_key_id=None, kind=kind, billing_date=day, count=n
    )


def test_a_month_closes_once_per_user_with_overage_and_the_hook(user):
    PlanOverride.objects.create(user=user, messages_per_month=100)
    _usage(user, UsageRecord.Kind.MESSAGE_OUT, 90, date(2026, 11, 3))
    _usage(user, UsageRecord.Kind.MESSAGE_OUT, 30, date(2026, 11, 30))
    _usage(user, UsageRecord.Kind.MESSAGE_OUT, 999, date(2026, 12, 1))  # next month
    _usage(user, UsageRecord.Kind.MESSAGE_IN, 7, date(2026, 11, 5))
    _usage(UserFactory(), UsageRecord.Kind.MESSAGE_IN, 1, date(2026, 10, 5))  # another month
    seen = []

    def hook(sender, statement, **kwargs):
        seen.append(statement.pk)

    statement_closed.connect(hook)
    try:
        assert statements_close(month=NOVEMBER) == 1
        assert statements_close(month=NOVEMBER) == 0  # a closed month stays as it was
    finally:
        statement_closed.disconnect(hook)
    statement = MonthlyStatement.objects.get(user=user)
    assert (statement.messages_out, statement.messages_in, statement.number_checks) == (120, 7, 0)
    assert (statement.tier, statement.included, statement.overage) == ("BASIC", 100, 20)
    assert seen == [statement.pk]


def test_admin_lists_statements_and_downloads_them_as_csv(admin_client, user):
    _usage(user, UsageRecord.Kind.MESSAGE_OUT, 5, date(2026, 11, 3))
    statements_close(month=NOVEMBER)
    statement = MonthlyStatement.objects.get(user=user)
    listing = admin_client.get("/admin/billing/monthlystatement/")
    assert user.email in listing.content.decode()
    answer = admin_client.post(
        "/admin/billing/monthlystatement/",
        {"action": "download_csv", "_selected_action": [statement.pk]},
    )
    lines = answer.content.decode().splitlines()
    assert lines[0].startswith("month,user_email,tier")
    assert lines[1] == f"2026-11,{user.email},BASIC,5,0,0,10000,0,"


def test_the_overview_shows_the_platform_and_users_near_a_quota(admin_client, user):
    WorkerFactory()
    ConnectedSessionFactory(owner=user)
    PlanOverride.objects.create(user=user, messages_per_day=10)
    today = timezone.now().date()
    QuotaCounter.objects.create(
        user=user, day=today, day_count=9, month=today.replace(day=1), month_count=9
    )
    quiet = UserFactory()
    QuotaCounter.objects.create(
        user=quiet, day=today, day_count=1, month=today.replace(day=1), month_count=1
    )
    html = admin_client.get("/admin/overview").content.decode()
    near = html[html.index('id="ov-near-quota"') : html.index('id="ov-monthly"')]
    assert user.email in near
    assert "9 of 10 (90%)" in near
    assert quiet.email not in near
    assert "CONNECTED" in html
    assert 'id="overview-link"' in admin_client.get("/admin/").content.decode()


def test_the_overview_is_for_staff_only(client, user):
    client.force_login(user)
    assert client.get("/admin/overview").status_code == 302  # to the admin's login
