"""A session's human-like pacing: set and shown through the API (validated), carried to its node
with each send, and a freshly linked number's daily cap refusing sends past it, writing nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from gateway.models import SystemLog
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from sessions_app.sessions.pacing import new_number_cap_check
from sessions_app.sessions.services import session_status_apply
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, UserFactory

pytestmark = pytest.mark.django_db

PACING = {
    "minDelayMs": 1500,
    "maxDelayMs": 4000,
    "typing": True,
    "newNumberDays": 7,
    "newNumberDailyCap": 50,
}


def _url(session):
    return f"/api/v1/sessions/{session.id}/pacing"


def _send(api, session, text="hi"):
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": text}
    return api.post("/api/v1/messages", body, format="json")


def _midnight_after(moment):
    return datetime.combine(moment.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)


def _capped_session(owner, *, cap, linked_ago=timedelta(days=1), days=7):
    return ConnectedSessionFactory(
        owner=owner,
        new_number_days=days,
        new_number_daily_cap=cap,
        linked_at=timezone.now() - linked_ago,
    )


# --- The API -------------------------------------------------------------------------------


def test_pacing_round_trips_and_shows_in_the_sessions_detail(api, user):
    session = ConnectedSessionFactory(owner=user, linked_at=timezone.now())
    assert api.get(_url(session)).json()["data"]["typing"] is False  # off by default

    saved = api.put(_url(session), PACING, format="json")
    assert saved.status_code == 200, saved.content
    data = saved.json()["data"]
    assert {k: data[k] for k in PACING} == PACING
    assert data["sessionId"] == session.id
    assert data["newNumberUntil"] is not None

    detail = api.get(f"/api/v1/sessions/{session.id}").json()["data"]
    assert {k: detail["pacing"][k] for k in PACING} == PACING
    assert detail["linkedAt"] is not None
    assert {k: api.get(_url(session)).json()["data"][k] for k in PACING} == PACING
    stored = Session.objects.get(id=session.id)
    assert (stored.pacing_min_delay_ms, stored.pacing_max_delay_ms) == (1500, 4000)
    assert stored.status == Session.Status.CONNECTED  # only the pacing columns were written
    assert SystemLog.objects.filter(event="session.pacing_set", session_id=session.id).exists()


def test_a_put_replaces_the_whole_pacing(api, user):
    session = ConnectedSessionFactory(owner=user)
    api.put(_url(session), PACING, format="json")
    data = api.put(_url(session), {"typing": True}, format="json").json()["data"]
    assert data == {
        "sessionId": session.id,
        "minDelayMs": 0,
        "maxDelayMs": 0,
        "typing": True,
        "newNumberDays": 0,
        "newNumberDailyCap": 0,
        "newNumberUntil": None,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"minDelayMs": 5000, "maxDelayMs": 1000}, "minDelayMs"),
        ({"maxDelayMs": 60_001}, "maxDelayMs"),
        ({"minDelayMs": -1, "maxDelayMs": 10}, "minDelayMs"),
        ({"maxDelayMs": "3000"}, "maxDelayMs"),
        ({"maxDelayMs": 2.5}, "maxDelayMs"),
        ({"typing": "yes"}, "typing"),
        ({"newNumberDays": 7}, "newNumberDailyCap"),
        ({"newNumberDays": 366, "newNumberDailyCap": 5}, "newNumberDays"),
        ({"newNumberDays": 3, "newNumberDailyCap": 100_001}, "newNumberDailyCap"),
        ({"maxDelay": 3000}, "maxDelay"),
    ],
)
def test_bad_pacing_is_400_naming_the_field_and_changes_nothing(api, user, body, field):
    session = ConnectedSessionFactory(owner=user)
    refused = api.put(_url(session), body, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field]
    stored = Session.objects.get(id=session.id)
    assert (stored.pacing_max_delay_ms, stored.new_number_days, stored.pacing_typing) == (
        0,
        0,
        False,
    )


def test_another_users_session_has_no_pacing_to_set(api, other_user):
    session = ConnectedSessionFactory(owner=other_user)
    refused = api.put(_url(session), PACING, format="json")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "session_not_found"
    assert Session.objects.get(id=session.id).pacing_max_delay_ms == 0


def test_the_schema_documents_the_pacing_endpoint_with_an_example(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    put = schema["paths"]["/api/v1/sessions/{session_id}/pacing"]["put"]
    example = put["requestBody"]["content"]["application/json"]["examples"]
    assert next(iter(example.values()))["value"] == {
        **PACING,
        "minDelayMs": 2000,
        "maxDelayMs": 6000,
    }
    assert "new_number_daily_cap" in put["description"]


# --- What goes to the node -----------------------------------------------------------------


def test_each_send_carries_the_sessions_pacing_to_its_node(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    assert _send(api, session).status_code == 202
    api.put(_url(session), {"minDelayMs": 1000, "maxDelayMs": 3000}, format="json")
    assert _send(api, session).status_code == 202
    assert [call["kwargs"]["pacing"] for call in published] == [
        None,
        {"minDelayMs": 1000, "maxDelayMs": 3000, "typing": False},
    ]


# --- When a number counts as linked --------------------------------------------------------


def test_linked_at_is_when_a_phone_number_first_connected(user):
    session = ConnectedSessionFactory(owner=user, phone_number="", jid="", linked_at=None)
    first = timezone.now()
    kwargs = {"session_id": session.id, "status": "CONNECTED", "worker_id": session.worker_id}
    session_status_apply(timestamp=first, phone_number="6281200000100", **kwargs)
    assert Session.objects.get(id=session.id).linked_at == first
    # The same number connecting again (a restart, a reconnect) is not a new number.
    session_status_apply(
        timestamp=first + timedelta(hours=5), phone_number="6281200000100", **kwargs
    )
    assert Session.objects.get(id=session.id).linked_at == first
    # Another number linked to the session is.
    later = first + timedelta(days=2)
    session_status_apply(timestamp=later, phone_number="6281200000200", **kwargs)
    assert Session.objects.get(id=session.id).linked_at == later


# --- The new-number cap --------------------------------------------------------------------


def test_a_new_number_is_refused_exactly_past_its_cap_and_nothing_is_written(api, user, published):
    session = _capped_session(user, cap=2)
    yesterday = OutboundMessageFactory(session=session)  # yesterday's sends do not count
    midnight = _midnight_after(timezone.now()) - timedelta(days=1)
    OutboundMessage.objects.filter(id=yesterday.id).update(
        created_at=midnight - timedelta(seconds=1)
    )
    published.clear()

    assert [_send(api, session).status_code for _ in range(2)] == [202, 202]
    refused = _send(api, session)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "new_number_daily_cap"
    assert error["fields"]["limit"] == 2
    resets_at = _midnight_after(timezone.now())
    assert error["fields"]["resetsAt"] == resets_at.isoformat().replace("+00:00", "Z")
    wait_s = (resets_at - timezone.now()).total_seconds()
    assert wait_s - 5 <= int(refused["Retry-After"]) <= wait_s + 5
    assert OutboundMessage.objects.filter(session=session).count() == 3  # 2 today + yesterday's
    assert len(published) == 2


def test_the_cap_resets_when_the_number_stops_being_new_if_that_is_sooner(api, user, published):
    session = _capped_session(user, cap=1, linked_ago=timedelta(days=7) - timedelta(minutes=30))
    assert _send(api, session).status_code == 202
    refused = _send(api, session)
    until = session.linked_at + timedelta(days=7)
    expected = min(until, _midnight_after(timezone.now()))
    assert refused.json()["error"]["fields"]["resetsAt"] == expected.isoformat().replace(
        "+00:00", "Z"
    )


def test_a_number_past_its_new_days_or_without_a_cap_is_not_counted(
    api, user, published, django_assert_num_queries
):
    old = _capped_session(user, cap=1, linked_ago=timedelta(days=8))
    off = ConnectedSessionFactory(owner=user, linked_at=timezone.now())
    never = ConnectedSessionFactory(owner=user, new_number_days=7, new_number_daily_cap=1)
    for session in (old, off, never):
        with django_assert_num_queries(0):  # the send path pays nothing for it
            new_number_cap_check(session=session)
    assert [_send(api, old).status_code for _ in range(3)] == [202] * 3


def test_an_idempotent_repeat_past_the_cap_answers_the_first_message(api, user, published):
    session = _capped_session(user, cap=1)
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": "hi"}
    first = api.post("/api/v1/messages", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post("/api/v1/messages", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["data"]["messageId"] == first.json()["data"]["messageId"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_a_new_number_accept_exactly_its_cap(published):
    """Each thread has its own database connection, as each gunicorn worker does."""
    user = UserFactory()
    session = _capped_session(user, cap=3)
    secret = api_key_create(owner=user, name="k").secret
    statuses: list[int] = []
    start = threading.Barrier(8)

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        start.wait()
        try:
            statuses.append(_send(client, session).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] * 3 + [429] * 5
    assert OutboundMessage.objects.filter(session=session).count() == 3
