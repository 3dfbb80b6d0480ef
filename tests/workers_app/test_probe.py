"""The health probe that keeps a live node from being declared dead for the backend's outage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.sessions.models import Session
from tests.e2e.stack import free_port
from tests.factories import SessionFactory, WorkerFactory
from workers_app.fleet.health import workers_mark_offline
from workers_app.models import Worker
from workers_app.probe import node_answers_health


def _stale_worker(health_url: str) -> Worker:
    return WorkerFactory(
        health_url=health_url, last_heartbeat=timezone.now() - timedelta(minutes=10)
    )


def test_node_that_answers_as_itself_is_alive(health_server):
    health_server.answer = (200, {"status": "ok", "workerId": "node-a"})
    assert node_answers_health(worker_id="node-a", health_url=health_server.health_url, timeout_s=2)


@pytest.mark.parametrize(
    "answer",
    [
        (200, {"status": "ok", "workerId": "node-b"}),  # the port now belongs to another node
        (500, {"status": "error", "workerId": "node-a"}),
        (200, b"not json"),
        (200, ["node-a"]),
    ],
)
def test_anything_else_is_not_an_answer(health_server, answer):
    health_server.answer = answer
    assert not node_answers_health(
        worker_id="node-a", health_url=health_server.health_url, timeout_s=2
    )


def test_with_an_instance_id_only_that_process_is_an_answer(health_server):
    health_server.answer = (200, {"status": "ok", "workerId": "node-a", "instanceId": "a" * 32})
    assert node_answers_health(
        worker_id="node-a", health_url=health_server.health_url, timeout_s=2, instance_id="a" * 32
    )
    # A later process of the same node (a restart on the same port), or one that sends none.
    for body in [{"workerId": "node-a", "instanceId": "b" * 32}, {"workerId": "node-a"}]:
        health_server.answer = (200, body)
        assert not node_answers_health(
            worker_id="node-a",
            health_url=health_server.health_url,
            timeout_s=2,
            instance_id="a" * 32,
        )


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "http://127.0.0.1:{port}/h"])
def test_no_url_or_nobody_listening_is_not_an_answer(url):
    url = url.format(port=free_port())
    assert not node_answers_health(worker_id="node-a", health_url=url, timeout_s=2)


def test_stale_node_that_answers_its_health_url_keeps_its_sessions(user, health_server):
    worker = _stale_worker(health_server.health_url)
    health_server.answer = (200, {"status": "ok", "workerId": worker.id})
    session = SessionFactory(owner=user, worker=worker, status=Session.Status.CONNECTED)

    assert workers_mark_offline() == []

    worker.refresh_from_db()
    session.refresh_from_db()
    assert worker.status == Worker.Status.ONLINE
    assert (session.status, session.worker_id) == (Session.Status.CONNECTED, worker.id)


def test_stale_node_that_does_not_answer_is_marked_offline(user):
    worker = _stale_worker(f"http://127.0.0.1:{free_port()}/health")
    session = SessionFactory(owner=user, worker=worker, status=Session.Status.CONNECTED)

    assert workers_mark_offline() == [worker.id]

    session.refresh_from_db()
    assert (session.status, session.status_reason) == (Session.Status.DISCONNECTED, "node_lost")
