"""Usage you can see: GET /api/v1/usage, quota standing and the 80% / 100% threshold events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import api_key_create
from billing.models import PlanOverride, UsageRecord
from billing.services import usage_record_add
from sessions_app.messages.models import OutboundMessage
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.models import WebhookEvent
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db
M = OutboundMessage.Status


def _message(session, status, days_ago=0, api_key=None):
    message = OutboundMessageFactory(session=session, status=status, api_key=api_key)
    at = timezone.now() - timedelta(days=days_ago)
    OutboundMessage.objects.filter(id=message.id).update(created_at=at)
    return message


def _count(user, session, kind, n, days_ago=0, api_key=None):
    usage_record_add(
        user_id=user.id,
        session_id=session.id,
        api_key_id=api_key.id if api_key else None,
        kind=kind,
        billing_date=(timezone.now() - timedelta(days=days_ago)).date(),
        count=n,
    )


def test_usage_per_day_session_and_key_with_totals(api, api_key, user, other_user):
    first, second = ConnectedSessionFactory(owner=user), ConnectedSessionFactory(owner=user)
    key = api_key.api_key
    for status in (M.SENT, M.DELIVERED, M.READ, M.FAILED):
        _message(first, status, api_key=key)
    _message(first, M.SENT, days_ago=1, api_key=key)
    _message(second, M.QUEUED)
    _count(user, first, UsageRecord.Kind.MESSAGE_OUT, 3, api_key=key)
    _count(user, first, UsageRecord.Kind.MESSAGE_IN, 9)
    _count(user, second, UsageRecord.Kind.NUMBER_CHECK, 2)
    _message(ConnectedSessionFactory(owner=other_user), M.SENT)  # not this user's

    data = api.get("/api/v1/usage").json()["data"]
    today = timezone.now().date().isoformat()
    rows = {(r["period"], r["sessionId"], r["apiKeyId"]): r for r in data["rows"]}
    mine = rows[(today, first.id, key.id)]
    assert mine["messagesOut"] == {
        "queued": 0, "sent": 1, "delivered": 1, "read": 1, "failed": 1, "total": 4
    }  # fmt: skip
    assert mine["charged"] == 3
    assert rows[(today, first.id, None)]["messagesIn"] == 9
    assert rows[(today, second.id, None)]["numberChecks"] == 2
    assert rows[(today, second.id, None)]["messagesOut"]["queued"] == 1
    assert data["totals"]["messagesOut"]["total"] == 6
    assert (data["totals"]["messagesIn"], data["totals"]["numberChecks"]) == (9, 2)
    assert data["tier"] == "BASIC"
    assert [q["period"] for q in data["quotas"]] == ["day", "month"]

    one_session = api.get(f"/api/v1/usage?sessionId={second.id}").json()["data"]
    assert {r["sessionId"] for r in one_session["rows"]} == {second.id}


def test_month_granularity_sums_the_days(api, user):
    session = ConnectedSessionFactory(owner=user)
    now = timezone.now()
    days_in_month = now.day - 1  # messages on earlier days of this month, if any
    _message(session, M.SENT)
    if days_in_month:
        _message(session, M.SENT, days_ago=1)
    answer = api.get("/api/v1/usage?granularity=month").json()["data"]
    this_month = now.date().replace(day=1).isoformat()
    row = next(r for r in answer["rows"] if r["period"] == this_month)
    assert row["messagesOut"]["sent"] == 1 + (1 if days_in_month else 0)


def test_a_session_bound_key_sees_its_session_only(user):
    from rest_framework.test import APIClient

    mine, other = ConnectedSessionFactory(owner=user), ConnectedSessionFactory(owner=user)
    _message(mine, M.SENT)
    _message(other, M.SENT)
    client = APIClient()
    secret = api_key_create(owner=user, name="b", session=mine).secret
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    rows = client.get("/api/v1/usage").json()["data"]["rows"]
    assert {r["sessionId"] for r in rows} == {mine.id}
    refused = client.get(f"/api/v1/usage?sessionId={other.id}")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "session_not_found"


@pytest.mark.parametrize(
    "query",
    ["from=2026-02-10&to=2026-02-01", "from=2024-01-01&to=2026-01-01", "granularity=week",
     "from=yesterday", "to=9999-12-31", "from=9999-12-31&to=9999-12-31"],
)  # fmt: skip
def test_bad_ranges_are_400_with_a_code(api, query):
    answer = api.get(f"/api/v1/usage?{query}")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "validation_error"


def test_the_quota_standing_warns_at_80_percent_and_is_full_at_100(api, user, published):
    PlanOverride.objects.create(user=user, messages_per_day=5)
    session = ConnectedSessionFactory(owner=user)
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": "hi"}
    levels = []
    for _ in range(5):
        assert api.post("/api/v1/messages", body, format="json").status_code == 202
        day = api.get("/api/v1/usage").json()["data"]["quotas"][0]
        levels.append((day["used"], day["level"]))
    assert levels == [(1, "ok"), (2, "ok"), (3, "ok"), (4, "warn"), (5, "full")]


def test_a_quota_of_zero_is_full_from_the_start_and_the_refusal_says_when_it_resets(
    api, user, published
):
    PlanOverride.objects.create(user=user, messages_per_day=0)
    session = ConnectedSessionFactory(owner=user)
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": "hi"}
    refused = api.post("/api/v1/messages", body, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "quota_exceeded")
    day = api.get("/api/v1/usage").json()["data"]["quotas"][0]
    assert (day["limit"], day["percent"], day["level"]) == (0, 100, "full")
    # One way of writing a moment: the refusal's resetsAt is the usage's, in UTC with a Z.
    assert refused.json()["error"]["fields"]["resetsAt"] == day["resetsAt"]
    assert day["resetsAt"].endswith("T00:00:00Z")


def test_crossing_80_and_100_percent_emits_usage_threshold_once_each(
    api, user, published, settings
):
    settings.ALLOW_PRIVATE_URLS = True
    PlanOverride.objects.create(user=user, messages_per_day=5, messages_per_month=100)
    session = ConnectedSessionFactory(owner=user)
    bound_elsewhere = ConnectedSessionFactory(owner=user)
    endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["*"])
    endpoint_create(
        owner=user, url="http://127.0.0.1:9/other", event_types=["*"], session=bound_elsewhere
    )
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": "hi"}
    crossed_at = []
    for n in range(1, 7):
        api.post("/api/v1/messages", body, format="json")
        if WebhookEvent.objects.filter(type="usage.threshold").count() > len(crossed_at):
            crossed_at.append(n)
    events = list(WebhookEvent.objects.filter(type="usage.threshold").order_by("created_at"))
    assert crossed_at == [4, 5]  # 80% of 5 is the 4th send; the refused 6th tells nothing new
    assert [e.payload["data"]["percent"] for e in events] == [80, 100]
    first = events[0].payload
    assert first["sessionId"] is None
    assert first["data"] | {"resetsAt": None} == {
        "period": "day", "percent": 80, "limit": 5, "used": 4, "resetsAt": None, "tier": "BASIC"
    }  # fmt: skip
    # An account's event reaches every endpoint, a session-bound one too.
    assert all(e.deliveries.count() == 2 for e in events)
