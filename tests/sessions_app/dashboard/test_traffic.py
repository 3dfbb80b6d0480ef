"""The dashboard's traffic pages: a session's message log and the live event monitor."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from sessions_app.webhooks import monitor
from sessions_app.webhooks.events import message_received_emit
from sessions_app.webhooks.models import WebhookEvent
from tests.factories import ConnectedSessionFactory, SessionFactory
from workers_app.errors import NodeTimeout

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
OUT = {
    "id": "msg_1",
    "direction": "out",
    "chatId": "6281200000001@s.whatsapp.net",
    "from": None,
    "type": "image",
    "status": "failed",
    "error": {"code": "media_download_failed", "message": "The media URL did not answer."},
    "content": {"text": "Our new shop 📸", "media": {"id": "med_1"}},
    "createdAt": "2026-12-02T06:00:00Z",
    "cursor": 7,
}
IN = {
    **OUT,
    "id": "3EB0ABC",
    "direction": "in",
    "from": "6281299990000",
    "type": "location",
    "status": "received",
    "error": None,
    "content": {"location": {"latitude": 1, "longitude": 2, "name": "Kopi Kenangan"}},
    "cursor": 8,
}


@pytest.fixture(autouse=True)
def _fresh_monitor_memo():
    monitor._memo.clear()
    yield
    monitor._memo.clear()


def test_the_message_log_shows_both_directions_newest_first_with_reasons(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    with mock.patch("sessions_app.messages.selectors.node_call", return_value=[IN, OUT]) as call:
        page = logged_in.get(f"/sessions/{session.id}/log").content.decode()
    task = call.call_args.kwargs["task"]
    assert (task.newest_first, task.before, task.limit) == (True, 0, 50)
    assert page.index("Kopi Kenangan") < page.index("Our new shop 📸")
    assert "↙ in" in page
    assert "↗ out" in page
    assert "6281299990000" in page  # the sender of the incoming one
    assert "media_download_failed" in page
    assert "The media URL did not answer." in page
    assert 'hx-trigger="every 3s"' in page  # the newest page stays live
    assert "Older messages" not in page


def test_the_message_log_searches_filters_and_pages(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    page_of_50 = [{**IN, "cursor": 100 - n} for n in range(50)]
    with mock.patch("sessions_app.messages.selectors.node_call", return_value=page_of_50) as call:
        page = logged_in.get(
            f"/sessions/{session.id}/log", {"q": "kopi", "direction": "in", "before": "200"}
        ).content.decode()
    task = call.call_args.kwargs["task"]
    assert (task.query, task.direction, task.before) == ("kopi", "in", 200)
    assert "before=51" in page  # the older page starts below the last cursor shown
    assert 'hx-trigger="every 3s"' not in page  # an older page does not refresh


def test_the_message_log_says_why_it_is_empty(logged_in, user):
    never = SessionFactory(owner=user)
    assert (
        "has not been on a node yet" in logged_in.get(f"/sessions/{never.id}/log").content.decode()
    )
    session = ConnectedSessionFactory(owner=user)
    with mock.patch("sessions_app.messages.selectors.node_call", side_effect=NodeTimeout()):
        response = logged_in.get(f"/sessions/{session.id}/log")
    assert response.status_code == 200
    assert "did not answer in time" in response.content.decode()


def test_another_users_message_log_is_not_found(logged_in, other_user):
    theirs = ConnectedSessionFactory(owner=other_user)
    assert logged_in.get(f"/sessions/{theirs.id}/log").status_code == 404


def _incoming(session, text="hi", wa_id="WA1"):
    message_received_emit(
        session=session, message={"id": wa_id, "from": "6281299990000", "text": text}
    )


def test_events_are_kept_for_the_monitor_only_while_it_is_open(logged_in, user, other_user):
    session = ConnectedSessionFactory(owner=user)
    _incoming(session, wa_id="before")  # nobody watches, no webhook: nothing is stored
    assert not WebhookEvent.objects.exists()

    page = logged_in.get("/events").content.decode()
    assert "Waiting for events" in page
    newest = page.split("after=")[1].split("&")[0].split('"')[0]
    _incoming(session, text="hello monitor", wa_id="during")
    _incoming(ConnectedSessionFactory(owner=other_user), wa_id="theirs")  # not watched

    feed = logged_in.get(f"/events/feed?after={newest}", headers=HTMX)
    body = feed.content.decode()
    assert feed.status_code == 200
    assert "message.received" in body
    assert "hello monitor" in body
    assert 'hx-swap-oob="true"' in body  # the next poll asks after this one
    assert WebhookEvent.objects.filter(owner=other_user).count() == 0
    [event] = WebhookEvent.objects.filter(owner=user)
    after = event.created_at.isoformat()
    assert logged_in.get("/events/feed", {"after": after}, headers=HTMX).status_code == 204


def test_the_monitor_filters_by_session_and_type(logged_in, user):
    one, two = ConnectedSessionFactory(owner=user), ConnectedSessionFactory(owner=user)
    logged_in.get("/events")
    _incoming(one, text="from one", wa_id="a")
    _incoming(two, text="from two", wa_id="b")
    page = logged_in.get("/events", {"session": one.id}).content.decode()
    assert "from one" in page
    assert "from two" not in page
    assert "from one" not in logged_in.get("/events", {"type": "session.status"}).content.decode()


def test_the_monitor_forgets_after_its_watch_ends(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    logged_in.get("/events")
    monitor.cache.delete(monitor._key(user.pk))  # the watch ran out (MONITOR_WATCH_S)
    monitor._memo.clear()
    _incoming(session, wa_id="late")
    assert not WebhookEvent.objects.exists()


def test_the_monitor_shows_the_payload_as_sent(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    logged_in.get("/events")
    _incoming(session, text="Grüße & <b>tags</b>", wa_id="x")
    page = logged_in.get("/events").content.decode()
    assert "&quot;text&quot;: &quot;Grüße &amp; &lt;b&gt;tags&lt;/b&gt;&quot;" in page  # escaped
    assert '"sessionId"' not in page  # JSON keys are escaped too, never raw HTML


def test_old_events_stay_out_of_the_first_poll(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    logged_in.get("/events")
    _incoming(session, wa_id="old")
    WebhookEvent.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    since = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert logged_in.get("/events/feed", {"after": since}, headers=HTMX).status_code == 204
