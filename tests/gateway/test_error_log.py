"""500s and failed tasks reach the System log once each, naming the error but none of its data."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from gateway.models import SystemLog
from tests.factories import SessionFactory, UserFactory

SECRET = "hunter2-do-not-log"

pytestmark = pytest.mark.django_db(transaction=True)  # the entry is written on its own connection


@pytest.fixture(autouse=True)
def _no_entries_before():
    SystemLog.objects.all().delete()  # what another test's own connection may have committed


def _boom(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError(f"token={SECRET}")


BOOM_LINE = _boom.__code__.co_firstlineno + 1


def _entries() -> list[SystemLog]:
    return list(SystemLog.objects.filter(level="ERROR").order_by("created_at"))


def test_an_api_500_is_one_system_log_entry_without_the_error_message(api, monkeypatch):
    monkeypatch.setattr("sessions_app.sessions.api.views.session_list", _boom)

    response = api.get("/api/v1/sessions?q=" + SECRET)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"
    [entry] = _entries()
    assert entry.event == "request.failed"
    assert entry.data == {
        "error": "RuntimeError",
        "where": f"test_error_log.py:{BOOM_LINE} in _boom",
        "method": "GET",
        "path": "/api/v1/sessions",
        "status": 500,
    }
    assert entry.message == (
        f"GET /api/v1/sessions answered 500: RuntimeError at test_error_log.py:{BOOM_LINE} in _boom"
    )
    assert SECRET not in str(entry.data) + entry.message


def test_a_dashboard_500_is_recorded_too(monkeypatch):
    monkeypatch.setattr("sessions_app.dashboard.sessions.session_list", _boom)
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())

    response = client.get("/sessions/rows")

    assert response.status_code == 500
    [entry] = _entries()
    assert (entry.event, entry.data["path"], entry.data["error"]) == (
        "request.failed",
        "/sessions/rows",
        "RuntimeError",
    )


def test_a_4xx_or_a_deliberate_503_is_not_an_error(api, user):
    assert api.get("/api/v1/sessions/ses_nope").status_code == 404
    session = SessionFactory(owner=user)
    busy = api.post(f"/api/v1/sessions/{session.id}/connect", {"method": "qr"}, format="json")
    assert busy.status_code == 503  # no node online: the API's answer, not a failure
    assert _entries() == []


def test_a_failed_backend_task_is_recorded(monkeypatch):
    from workers_app.tasks import check_node_health

    monkeypatch.setattr("workers_app.tasks.workers_mark_offline", _boom)

    result = check_node_health.apply()

    assert result.failed()
    [entry] = _entries()
    assert entry.event == "task.failed"
    assert entry.data["task"] == "workers_app.tasks.check_node_health"
    assert entry.data["error"] == "RuntimeError"
    assert entry.message.startswith("task workers_app.tasks.check_node_health failed: Runtime")
    assert SECRET not in str(entry.data) + entry.message
