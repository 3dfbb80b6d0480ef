"""Session-event reports (contact.updated): one webhook event per event id, from the node that
serves the session only, refused whole when malformed."""

import pytest

from node_agent.protocol import SESSION_EVENT_PATH
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.models import WebhookDelivery, WebhookEvent
from tests.factories import ConnectedSessionFactory

pytestmark = pytest.mark.django_db

ANA = "6281200000177@s.whatsapp.net"


def _report(session, *, type_="contact.updated", event_id="e1", worker_id="", **data):
    return {
        "sessionId": session.id,
        "workerId": worker_id,
        "type": type_,
        "eventId": event_id,
        "data": data
        or {
            "contact": ANA,
            "phone": "6281200000177",
            "lid": "97710000021826@lid",
            "changes": {"pushName": "Ana's Shop"},
        },
        "timestamp": "2026-12-07T10:00:00Z",
    }


def test_a_contact_update_is_one_webhook_event_however_often_reported(
    node_api, user, settings, django_capture_on_commit_callbacks
):
    settings.ALLOW_PRIVATE_URLS = True
    endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["contact.updated"])
    session = ConnectedSessionFactory(owner=user)
    report = _report(session, worker_id=session.worker_id)
    with django_capture_on_commit_callbacks(execute=True):
        first = node_api.post(SESSION_EVENT_PATH, report, format="json")
        batch = node_api.post(
            "/api/webhooks/reports",
            {"reports": [{"path": SESSION_EVENT_PATH, "body": report}]},
            format="json",
        )
    assert first.status_code == 200, first.json()
    assert first.json()["data"] == {"sessionId": session.id, "accepted": True}
    assert batch.json()["data"]["results"] == [{"status": 200, "code": ""}]
    [event] = WebhookEvent.objects.all()
    assert event.type == "contact.updated"
    assert event.payload["data"] == {"sessionId": session.id, **report["data"]}
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_refused_reports_write_nothing(node_api, user, other_user):
    session = ConnectedSessionFactory(owner=user)
    elsewhere = node_api.post(
        SESSION_EVENT_PATH, _report(session, worker_id="node-elsewhere"), format="json"
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (404, "session_not_found")
    unknown = _report(session)
    unknown["sessionId"] = "ses_nobody"
    assert node_api.post(SESSION_EVENT_PATH, unknown, format="json").status_code == 404
    for bad in (
        _report(session, type_="message.exploded"),
        {**_report(session), "data": "not an object"},
        {k: v for k, v in _report(session).items() if k != "eventId"},
    ):
        response = node_api.post(SESSION_EVENT_PATH, bad, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (
            400,
            "validation_error",
        )
    assert not WebhookEvent.objects.exists()


def test_a_report_cannot_name_another_session_or_pass_what_is_not_its_shape(
    node_api, user, other_user, settings
):
    from node_agent.protocol import GROUP_EVENT_PATH

    session = ConnectedSessionFactory(owner=user)
    theirs = ConnectedSessionFactory(owner=other_user)
    settings.ALLOW_PRIVATE_URLS = True
    endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["*"])
    report = _report(session)
    report["data"]["sessionId"] = theirs.id
    assert node_api.post(SESSION_EVENT_PATH, report, format="json").status_code == 200
    [event] = WebhookEvent.objects.all()
    assert event.payload["data"]["sessionId"] == session.id
    group = {
        "sessionId": session.id,
        "workerId": "",
        "event": "updated",
        "eventId": "g1",
        "group": "120363041234567890@g.us",
        "by": None,
        "timestamp": "2026-12-07T10:00:00Z",
    }
    for data in (
        {"changes": "not an object"},
        {"changes": {"subject": "x"}, "sessionId": theirs.id},
        {"changes": {"colour": "red"}},
        {"changes": {"subject": "x" * (600 * 1024)}},
    ):
        response = node_api.post(GROUP_EVENT_PATH, {**group, "data": data}, format="json")
        assert response.status_code == 400, data
    for data in (
        {"contact": 5, "changes": {"pushName": "A"}},
        {"contact": ANA, "changes": {}},
        {"contact": ANA, "changes": {"picture": "yes please"}},
    ):
        response = node_api.post(SESSION_EVENT_PATH, _report(session, **data), format="json")
        assert response.status_code == 400, data
    assert WebhookEvent.objects.count() == 1
