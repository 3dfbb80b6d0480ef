"""A session's history and number checks: RPCs to the session's node."""

import time
from unittest import mock

import pytest

from billing.models import PlanOverride, UsageRecord
from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory
from workers_app.errors import NodeTimeout

pytestmark = pytest.mark.django_db


def test_history_asks_the_node(api, user):
    session = ConnectedSessionFactory(owner=user)
    rows = [{"id": "msg_1", "direction": "out", "cursor": 1}]
    with mock.patch("sessions_app.messages.selectors.node_call", return_value=rows) as call:
        response = api.get(f"/api/v1/sessions/{session.id}/messages?since=5&limit=2")
        narrowed = api.get(
            f"/api/v1/sessions/{session.id}/messages",
            {"before": 90, "order": "desc", "direction": "in", "q": " Kopi "},
        )
    assert response.status_code == 200
    assert response.json()["data"] == rows
    first, second = (c.kwargs["task"] for c in call.call_args_list)
    assert first.name == "node_agent.tasks.messages_list"
    assert first.to_wire() == {
        "sessionId": session.id,
        "since": 5,
        "limit": 2,
        "before": 0,
        "newestFirst": False,
        "direction": "",
        "query": "",
        "chat": "",
    }
    assert narrowed.status_code == 200
    assert (second.before, second.newest_first, second.direction, second.query) == (
        90,
        True,
        "in",
        "Kopi",
    )


def test_history_node_timeout_is_504(api, user):
    session = ConnectedSessionFactory(owner=user)
    with mock.patch("sessions_app.messages.selectors.node_call", side_effect=NodeTimeout()):
        response = api.get(f"/api/v1/sessions/{session.id}/messages")
    assert (response.status_code, response.json()["error"]["code"]) == (504, "node_timeout")


def test_history_bad_query_is_400(api, user):
    session = ConnectedSessionFactory(owner=user)
    for bad in ("limit=0&since=x", "order=newest", "direction=both", "q=" + "x" * 101):
        response = api.get(f"/api/v1/sessions/{session.id}/messages?{bad}")
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "validation_error"


def test_history_times_out_on_a_silent_node(api, user, settings):
    """The real RPC path: a node queue nobody consumes answers 504 within the timeout."""
    settings.NODE_RPC_TIMEOUT_S = 0.5
    session = ConnectedSessionFactory(owner=user)
    started = time.monotonic()
    response = api.get(f"/api/v1/sessions/{session.id}/messages")
    assert (response.status_code, response.json()["error"]["code"]) == (504, "node_timeout")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"jid": "6281200000001@s.whatsapp.net"}, True),
        ({"jid": None}, False),
    ],
)
def test_contact_check(api, api_key, user, answer, expected):
    session = ConnectedSessionFactory(owner=user)
    with mock.patch("sessions_app.messages.services.node_call", return_value=answer):
        response = api.get(
            f"/api/v1/sessions/{session.id}/contacts/check", {"phone": "+62 812-0000-0001"}
        )
    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert (data["phone"], data["onWhatsApp"], data["jid"]) == (
        "6281200000001",
        expected,
        answer["jid"],
    )
    # An answered check is metered: one number_check on the day's usage, on the key that asked.
    record = UsageRecord.objects.get(user=user, kind=UsageRecord.Kind.NUMBER_CHECK)
    assert (record.session_id, record.count, record.api_key_id) == (
        session.id,
        1,
        api_key.api_key.pk,
    )


def test_contact_check_bad_phone_is_400(api, user):
    session = ConnectedSessionFactory(owner=user)
    response = api.get(f"/api/v1/sessions/{session.id}/contacts/check", {"phone": "12"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_recipient")
    assert api.get(f"/api/v1/sessions/{session.id}/contacts/check").status_code == 400


def test_contact_check_names_the_plans_pace_and_a_spent_node_bucket_is_429(api, user):
    session = ConnectedSessionFactory(owner=user)
    answer = {"error": "rate_limited", "retryAfterS": 4}
    with mock.patch("sessions_app.messages.services.node_call", return_value=answer) as call:
        response = api.get(
            f"/api/v1/sessions/{session.id}/contacts/check", {"phone": "+62 812-0000-0001"}
        )
    assert call.call_args.kwargs["task"].to_wire() == {
        "sessionId": session.id,
        "phone": "6281200000001",
        "ratePerMinute": 10,  # the BASIC plan's number checks per minute: the node spaces them
    }
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["fields"]["limit"]) == ("rate_limited", "checks")
    assert response["Retry-After"] == "4"
    assert not UsageRecord.objects.filter(kind=UsageRecord.Kind.NUMBER_CHECK).exists()


def test_checks_that_cannot_happen_are_not_counted(api, user):
    """A check of a session that is not connected, or one the node's spacing refuses, spends
    nothing of the plan's checks a minute, and the node's refusal says it is spent for now."""
    PlanOverride.objects.create(user=user, number_checks_per_minute=2)
    session = ConnectedSessionFactory(owner=user, status=Session.Status.QR_REQUIRED)
    url = f"/api/v1/sessions/{session.id}/contacts/check"
    phone = {"phone": "+62 812-0000-0001"}
    assert [api.get(url, phone).status_code for _ in range(3)] == [409] * 3
    Session.objects.filter(pk=session.pk).update(status=Session.Status.CONNECTED)
    spaced = {"error": "rate_limited", "retryAfterS": 4}
    with mock.patch("sessions_app.messages.services.node_call", return_value=spaced):
        refused = api.get(url, phone)
    assert refused.status_code == 429
    assert '"checks";r=0;t=4' in refused["RateLimit"]
    answered = {"jid": "6281200000001@s.whatsapp.net"}
    with mock.patch("sessions_app.messages.services.node_call", return_value=answered):
        statuses = [api.get(url, phone).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the plan's two, then the backend's own refusal
