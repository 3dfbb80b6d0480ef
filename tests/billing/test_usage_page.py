"""The dashboard's Usage page, its CSV export and the quota banner."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.utils import timezone

from billing.models import PlanOverride, QuotaCounter
from sessions_app.messages.models import OutboundMessage
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db
M = OutboundMessage.Status


@pytest.fixture
def page(client, user):
    client.force_login(user)
    return client


def _used_today(user, n):
    today = timezone.now().date()
    QuotaCounter.objects.update_or_create(
        user=user, defaults={"day": today, "day_count": n, "month": today.replace(day=1),
                             "month_count": n}
    )  # fmt: skip


def test_the_page_shows_plan_quotas_chart_data_and_sessions(page, user, other_user):
    session = ConnectedSessionFactory(owner=user, name="Shop")
    for status in (M.SENT, M.DELIVERED, M.READ):
        OutboundMessageFactory(session=session, status=status)
    OutboundMessageFactory(session=ConnectedSessionFactory(owner=other_user, name="Theirs"))
    _used_today(user, 3)
    answer = page.get("/usage")
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "Plan: BASIC" in html
    assert "3 of 1000 messages" in html
    assert "Shop" in html
    assert "Theirs" not in html
    start = html.index('id="usage-chart-data"')
    chart = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert len(chart["days"]) == 30
    assert chart["out"][-1] == 3
    assert sum(chart["out"]) == 3


def test_the_csv_has_one_row_per_day_session_and_key(page, user):
    session = ConnectedSessionFactory(owner=user, name="=HYPERLINK(1)")
    OutboundMessageFactory(session=session, status=M.FAILED)
    OutboundMessageFactory(session=session, status=M.SENT)
    answer = page.get("/usage.csv")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["session_id"], row["failed"], row["sent"], row["messages_out"]) == (
        session.id, "1", "1", "2"
    )  # fmt: skip
    assert row["session_name"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet


def test_the_banner_warns_at_80_percent_and_says_refused_at_100(page, user):
    PlanOverride.objects.create(user=user, messages_per_day=10)
    _used_today(user, 7)
    assert "quota-alert" not in page.get("/").content.decode()
    _used_today(user, 8)
    warned = page.get("/").content.decode()
    assert "used 80% of today" in warned
    _used_today(user, 10)
    full = page.get("/webhooks").content.decode()
    assert "quota_exceeded" in full
    assert "all 10 messages of today" in full


@pytest.mark.parametrize("path", ["/usage", "/usage.csv"])
def test_a_range_past_the_last_day_falls_back_to_the_default(page, path):
    assert page.get(f"{path}?to=9999-12-31").status_code == 200
    assert page.get(f"{path}?from=9999-12-31&to=9999-12-31").status_code == 200


def test_the_page_needs_a_login(client):
    assert client.get("/usage").status_code == 302
    assert client.get("/usage.csv").status_code == 302
