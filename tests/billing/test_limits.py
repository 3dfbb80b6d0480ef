"""Plans as data and their enforcement at the API edge: quotas, rates, counts, engines."""

from __future__ import annotations

import json
import re
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import api_key_create
from billing.models import Plan, PlanOverride, QuotaCounter
from billing.selectors import limits_for
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

RATE = re.compile(r'"(\w+)";r=(\d+);t=(\d+)')


def _send(api, session, text="hi"):
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": text}
    return api.post("/api/v1/messages", body, format="json")


def test_the_seeded_plans_grow_from_basic_to_an_unlimited_enterprise():
    basic, pro, enterprise = (Plan.objects.get(tier=t) for t in ("BASIC", "PRO", "ENTERPRISE"))
    assert basic.max_sessions < pro.max_sessions
    assert basic.messages_per_day < pro.messages_per_day
    assert basic.send_rate_per_s < pro.send_rate_per_s
    for name in ("max_sessions", "messages_per_day", "send_rate_per_s", "api_requests_per_minute"):
        assert getattr(enterprise, name) is None, name


def test_an_override_replaces_only_the_limits_it_sets(user):
    assert limits_for(user).messages_per_day == 1000
    PlanOverride.objects.create(user=user, messages_per_day=7)
    user.refresh_from_db()
    limits = limits_for(user)
    assert (limits.messages_per_day, limits.max_sessions) == (7, 3)


def test_the_day_quota_refuses_the_next_send_and_writes_nothing(api, user, published):
    PlanOverride.objects.create(user=user, messages_per_day=2)
    session = ConnectedSessionFactory(owner=user)
    assert [_send(api, session).status_code for _ in range(2)] == [202, 202]
    refused = _send(api, session)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert (error["fields"]["period"], error["fields"]["limit"]) == ("day", 2)
    assert int(refused["Retry-After"]) > 0
    assert OutboundMessage.objects.filter(owner=user).count() == 2
    assert len(published) == 2
    assert QuotaCounter.objects.get(user=user).day_count == 2


def test_a_plan_change_applies_to_the_next_request(api, user, published):
    PlanOverride.objects.create(user=user, messages_per_day=1)
    session = ConnectedSessionFactory(owner=user)
    assert _send(api, session).status_code == 202
    assert _send(api, session).status_code == 429
    PlanOverride.objects.filter(user=user).delete()
    user.plan_id = "PRO"
    user.save()
    assert _send(api, session).status_code == 202


def test_an_operator_lowering_a_plans_quota_in_admin_applies_it_to_todays_sends(
    admin_client, api, user, published
):
    user.plan_id = "ENTERPRISE"  # unlimited: its sends are not counted as they go
    user.save(update_fields=["plan"])
    session = ConnectedSessionFactory(owner=user)
    assert [_send(api, session).status_code for _ in range(3)] == [202] * 3
    plan = Plan.objects.get(tier="ENTERPRISE")
    form = {
        "name": plan.name, "engines": "[]", "send_burst": plan.send_burst,
        "messages_per_day": 3,
    }  # fmt: skip
    answer = admin_client.post(f"/admin/billing/plan/{plan.pk}/change/", form)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert QuotaCounter.objects.get(user=user).day_count == 3
    assert _send(api, session).status_code == 429


@pytest.mark.parametrize(
    ("engines", "saved"),
    [("[]", True), ('["whatsapp"]', True), ('["sandbox", "whatsapp"]', True), ("5", False),
     ('"sandbox"', False), ('{"a": 1}', False), ("[1, 2]", False), ('["telegram"]', False),
     ('["sandbox", "sandbox"]', False)],
)  # fmt: skip
def test_a_plans_engines_must_be_a_list_of_known_engines(admin_client, engines, saved):
    plan = Plan.objects.get(tier="PRO")
    form = {"name": plan.name, "engines": engines, "send_burst": plan.send_burst}
    answer = admin_client.post(f"/admin/billing/plan/{plan.pk}/change/", form)
    assert (answer.status_code == 302) == saved
    plan.refresh_from_db()
    assert (plan.engines == json.loads(engines)) == saved


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_sends_at_the_edge_of_the_quota_accept_exactly_the_quota(published):
    """Each thread has its own database connection, as each gunicorn worker does."""
    user = UserFactory()
    PlanOverride.objects.create(user=user, messages_per_day=13)
    session = ConnectedSessionFactory(owner=user)
    secret = api_key_create(owner=user, name="k").secret
    statuses: list[int] = []
    start = threading.Barrier(20)

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        start.wait()
        try:
            statuses.append(_send(client, session).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] * 13 + [429] * 7
    assert OutboundMessage.objects.filter(owner=user).count() == 13


def test_api_requests_past_the_rate_are_429_with_retry_after_and_headers(api, user):
    PlanOverride.objects.create(user=user, api_requests_per_minute=3)
    answers = [api.get("/api/v1/sessions") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0]["RateLimit-Policy"] == '"api";q=3;w=60'
    remaining = [int(RATE.match(a["RateLimit"]).group(2)) for a in answers]
    assert remaining == [2, 1, 0, 0]
    assert answers[3].json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[3]["Retry-After"]) <= 60


def test_number_checks_are_paced_per_session(api, user, settings):
    PlanOverride.objects.create(user=user, number_checks_per_minute=1)
    session = ConnectedSessionFactory(owner=user)
    url = f"/api/v1/sessions/{session.id}/contacts/check?phone=%2B6281200000001"
    settings.NODE_RPC_TIMEOUT_S = 0.2  # no node answers here: the first is a timeout
    assert api.get(url).status_code != 429
    refused = api.get(url)
    assert refused.status_code == 429
    assert refused.json()["error"]["fields"]["limit"] == "checks"


def test_sessions_past_the_plan_are_403_and_not_created(api, user):
    for _ in range(3):
        assert api.post("/api/v1/sessions", {"name": "s"}, format="json").status_code == 201
    refused = api.post("/api/v1/sessions", {"name": "s"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plan_limit_reached"
    assert refused.json()["error"]["fields"] == {"limit": "max_sessions", "value": 3}
    assert Session.objects.filter(owner=user).count() == 3


def test_connect_past_a_lowered_plan_is_refused(api, user, worker):
    sessions = [SessionFactory(owner=user, status=Session.Status.CONNECTED) for _ in range(3)]
    PlanOverride.objects.create(user=user, max_sessions=2)
    Session.objects.filter(id=sessions[0].id).update(status=Session.Status.DISCONNECTED)
    refused = api.post(f"/api/v1/sessions/{sessions[0].id}/connect", {}, format="json")
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "plan_limit_reached"
    assert Session.objects.get(id=sessions[0].id).status == Session.Status.DISCONNECTED


def test_webhooks_past_the_plan_are_403(api, user, settings):
    settings.ALLOW_PRIVATE_URLS = True
    for n in range(3):
        body = {"url": f"http://127.0.0.1:9/h{n}"}
        assert api.post("/api/v1/webhooks", body, format="json").status_code == 201
    refused = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/x"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["fields"]["limit"] == "max_webhooks"


def test_an_engine_off_for_the_deployment_or_the_plan_is_refused(api, user, settings):
    settings.ENGINES_ENABLED = ["whatsapp"]
    off = api.post("/api/v1/sessions", {"name": "s", "engine": "sandbox"}, format="json")
    assert (off.status_code, off.json()["error"]["code"]) == (403, "engine_disabled")
    settings.ENGINES_ENABLED = ["whatsapp", "sandbox"]
    Plan.objects.filter(tier="BASIC").update(engines=["sandbox"])
    user.refresh_from_db()
    left_out = api.post("/api/v1/sessions", {"name": "s", "engine": "whatsapp"}, format="json")
    assert (left_out.status_code, left_out.json()["error"]["code"]) == (403, "plan_limit_reached")
    assert not Session.objects.filter(owner=user).exists()


def test_an_enterprise_user_is_not_paced_and_gets_no_rate_fields(unlimited, api):
    answers = [api.get("/api/v1/sessions") for _ in range(130)]
    assert {a.status_code for a in answers} == {200}
    assert "RateLimit" not in answers[-1]


def test_counters_out_of_reach_let_requests_through_uncounted(api, settings):
    from billing import ratelimits

    settings.RATELIMIT_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    ratelimits._limiter.cache_clear()
    try:
        answer = api.get("/api/v1/sessions")
    finally:
        ratelimits._limiter.cache_clear()
    assert answer.status_code == 200
    assert "RateLimit" not in answer


def test_an_unlimited_user_is_not_counted_until_a_quota_applies_then_counts_from_the_ledger(
    unlimited, api, published
):
    session = ConnectedSessionFactory(owner=unlimited)
    assert [_send(api, session).status_code for _ in range(3)] == [202] * 3
    assert not QuotaCounter.objects.filter(user=unlimited).exists()
    PlanOverride.objects.create(user=unlimited)  # as the admin saves it
    unlimited.plan_id = "BASIC"
    unlimited.save()
    PlanOverride.objects.filter(user=unlimited).update(messages_per_day=4)
    from billing.services import quota_recount

    quota_recount(user_id=unlimited.id)
    assert QuotaCounter.objects.get(user=unlimited).day_count == 3
    assert [_send(api, session).status_code for _ in range(2)] == [202, 429]


def test_the_openapi_schema_documents_the_limits_answers(api):
    schema = api.get("/api/schema/?format=json").json()
    send = schema["paths"]["/api/v1/messages"]["post"]["responses"]
    assert "quota_exceeded" in send["429"]["description"]
    assert "Retry-After" in send["429"]["headers"]
    assert "RateLimit-Policy" in send["202"]["headers"]
    create = schema["paths"]["/api/v1/sessions"]["post"]["responses"]
    assert "plan_limit_reached" in create["403"]["description"]
    assert "ErrorEnvelope" in schema["components"]["schemas"]
