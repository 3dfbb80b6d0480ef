"""The backend's Celery tasks: each only calls its service, each is routed, beat runs the sweeps."""

from unittest import mock

from django.conf import settings as django_settings

from gateway.celery import app
from sessions_app.messages.tasks import republish_messages
from sessions_app.sessions.tasks import fail_stalled_sessions
from sessions_app.webhooks.tasks import prune_webhook_events
from workers_app.tasks import check_node_health


def test_tasks_call_their_services():
    with mock.patch("sessions_app.messages.tasks.messages_republish", return_value=3) as republish:
        assert republish_messages() == 3
    republish.assert_called_once_with()
    with mock.patch("sessions_app.sessions.tasks.sessions_fail_stalled", return_value=1) as fail:
        assert fail_stalled_sessions() == 1
    fail.assert_called_once_with()
    with mock.patch("workers_app.tasks.workers_mark_offline", return_value=["n1"]) as sweep:
        assert check_node_health() == ["n1"]
    sweep.assert_called_once_with()
    with mock.patch("sessions_app.webhooks.tasks.events_prune", return_value=4) as prune:
        assert prune_webhook_events() == 4
    prune.assert_called_once_with()


def test_every_backend_task_has_a_route_and_beat_entries_exist():
    app.loader.import_default_modules()
    ours = [
        name
        for name in app.tasks
        if name.split(".")[0] in ("sessions_app", "workers_app", "billing", "accounts")
    ]
    assert len(ours) == 8, ours
    for name in ours:
        assert name in django_settings.CELERY_TASK_ROUTES, name
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert (
        set(django_settings.CELERY_TASK_ROUTES)
        - {
            "sessions_app.webhooks.tasks.deliver_webhook",
            "sessions_app.webhooks.tasks.deliver_webhooks",
        }
        == scheduled
    )
