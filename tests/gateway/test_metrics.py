"""Prometheus metrics of the web process (`/metrics`, scraped over HTTP from a live server) and of
the backend worker (its own server): who may scrape, and that sends, reports, webhooks and
refusals move the series."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from billing.models import PlanOverride
from gateway.metrics import MetricsServer, scrape_status, worker_metrics_start
from node_agent.protocol import SESSION_STATUS_PATH
from sessions_app.webhooks import events
from sessions_app.webhooks.delivery import delivery_attempt
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.models import WebhookDelivery
from tests.factories import ConnectedSessionFactory, SessionFactory, WorkerFactory
from tests.metrics_scrape import Scrape, get
from tests.sessions_app.webhooks.receiver import Receiver

TOKEN = "metrics-test-token-5f4e3d"


@pytest.fixture
def metrics_url(live_server, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return f"{live_server.url}/metrics"


def test_metrics_are_off_without_a_token_or_an_address_list(live_server, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert get(f"{live_server.url}/metrics").status_code == 404
    assert get(f"{live_server.url}/metrics", "anything").status_code == 404


def test_a_scrape_needs_the_token_or_an_allowed_address(metrics_url, settings):
    assert get(metrics_url).status_code == 403
    assert get(metrics_url, "wrong").status_code == 403
    assert get(metrics_url, TOKEN).status_code == 200

    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert get(metrics_url).status_code == 403
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    assert get(metrics_url).status_code == 200


def test_the_access_rule():
    loopback = [ipaddress.ip_network("127.0.0.1/32")]
    assert (
        scrape_status(token="", networks=[], authorization="Bearer x", client_ip="1.2.3.4") == 404
    )
    assert scrape_status(token="t", networks=[], authorization="bearer t", client_ip="") == 200
    assert scrape_status(token="t", networks=[], authorization="Basic t", client_ip="") == 403
    assert scrape_status(
        token="", networks=loopback, authorization="", client_ip="::ffff:127.0.0.1"
    )
    assert scrape_status(token="", networks=loopback, authorization="", client_ip="x") == 403


def _send(api, session):
    body = {"sessionId": session.id, "to": "+6281200000001", "type": "text", "text": "hi"}
    return api.post("/api/v1/messages", body, format="json")


def test_a_send_and_its_sent_report_move_the_series(
    metrics_url, api, user, node_api, broker, worker
):
    session = ConnectedSessionFactory(owner=user, worker=worker)
    PlanOverride.objects.create(user=user, messages_per_day=1)
    before = Scrape.of(metrics_url, TOKEN)

    sent = _send(api, session)
    assert sent.status_code == 202, sent.json()
    assert _send(api, session).json()["error"]["code"] == "quota_exceeded"
    message_id = sent.json()["data"]["messageId"]
    report = {
        "sessionId": session.id,
        "messageId": message_id,
        "status": "sent",
        "timestamp": timezone.now().isoformat(),
    }
    assert node_api.post("/api/webhooks/message-status", report, format="json").status_code == 200
    missing = {**report, "messageId": "msg_nope"}
    assert node_api.post("/api/webhooks/message-status", missing, format="json").status_code == 404

    after = Scrape.of(metrics_url, TOKEN)

    def grew(name, **labels):
        return (after.value(name, **labels) or 0) - (before.value(name, **labels) or 0)

    assert grew("gateway_message_send_latency_seconds_count") == 1
    assert grew("gateway_messages_total", status="queued", type="text") == 1
    assert grew("gateway_messages_total", status="sent", type="text") == 1
    assert grew("gateway_node_reports_total", kind="message_status", outcome="applied") == 1
    assert grew("gateway_node_reports_total", kind="message_status", outcome="rejected") == 1
    assert grew("gateway_rate_limit_refusals_total", code="quota_exceeded", limit="day") == 1
    # Read from the database and the broker at scrape time.
    assert after.value("gateway_sessions", status="CONNECTED", engine="sandbox") >= 1
    assert after.value("gateway_sessions", status="PAIRING", engine="whatsapp") is not None
    assert after.value("gateway_node_online", node=worker.id) == 1
    assert after.value("gateway_nodes", status="ONLINE") >= 1
    assert after.value("gateway_database_up") == after.value("gateway_broker_up") == 1
    assert after.value("gateway_queue_depth", queue=worker.endpoint) == 1  # the send's task
    assert after.value("gateway_queue_depth", queue="webhooks") is not None


def test_a_node_never_seen_has_no_heartbeat_age(metrics_url, db):
    silent = WorkerFactory(last_heartbeat=None, status="OFFLINE")
    scrape = Scrape.of(metrics_url, TOKEN)
    assert scrape.value("gateway_node_online", node=silent.id) == 0
    assert scrape.value("gateway_node_heartbeat_age_seconds", node=silent.id) is None


def test_the_backend_workers_server_serves_its_process_and_counters():
    server = MetricsServer("127.0.0.1", 0, token=TOKEN, networks=[]).start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert get(f"{url}/metrics").status_code == 403
        assert get(f"{url}/other", TOKEN).status_code == 404
        scrape = Scrape.of(f"{url}/metrics", TOKEN)
    finally:
        server.stop()
    assert scrape.value("gateway_webhook_attempts_total", outcome="timeout") is not None
    assert scrape.value("gateway_webhook_deliveries_total", outcome="failed") is not None
    assert scrape.value("process_open_fds") > 0


def test_the_backend_workers_server_is_off_on_port_0_and_never_fails_the_worker():
    assert worker_metrics_start(host="127.0.0.1", port=0, token=TOKEN, networks=[]) is None
    taken = MetricsServer("127.0.0.1", 0, token="", networks=[]).start()
    try:
        second = worker_metrics_start(host="127.0.0.1", port=taken.port, token="", networks=[])
        assert second is None
        assert get(f"http://127.0.0.1:{taken.port}/metrics").status_code == 404
    finally:
        taken.stop()


def _sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


@pytest.mark.django_db
def test_a_batch_counts_each_report_applied_or_rejected(node_api, user):
    session = ConnectedSessionFactory(owner=user)
    good = {"sessionId": session.id, "status": "RECONNECTING", "timestamp": timezone.now()}
    reports = [
        {"path": SESSION_STATUS_PATH, "body": {**good, "timestamp": good["timestamp"].isoformat()}},
        {"path": SESSION_STATUS_PATH, "body": {"sessionId": session.id, "status": "CONNECTED"}},
    ]
    labels = {"kind": "session_status"}
    applied = _sample("gateway_node_reports_total", **labels, outcome="applied")
    rejected = _sample("gateway_node_reports_total", **labels, outcome="rejected")

    answer = node_api.post("/api/webhooks/reports", {"reports": reports}, format="json")

    assert answer.status_code == 200, answer.json()
    assert _sample("gateway_node_reports_total", **labels, outcome="applied") == applied + 1
    assert _sample("gateway_node_reports_total", **labels, outcome="rejected") == rejected + 1


@pytest.mark.django_db(transaction=True)
def test_webhook_attempts_and_deliveries_are_counted_with_their_duration(user, settings):
    settings.ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_RETRY_SCHEDULE_S = [0]  # one attempt, then the delivery fails
    receiver = Receiver(default=(500, 0.0, {})).start()
    try:
        endpoint_create(owner=user, url=receiver.url, event_types=["*"])
        with mock.patch.object(events, "deliveries_enqueue", return_value=None):
            events.message_received_emit(
                session=SessionFactory(owner=user),
                message={"id": "m1", "from": "15550001", "type": "text", "text": "hi"},
            )
        before = {
            "http_error": _sample("gateway_webhook_attempts_total", outcome="http_error"),
            "failed": _sample("gateway_webhook_deliveries_total", outcome="failed"),
            "timed": _sample("gateway_webhook_attempt_duration_seconds_count"),
        }
        [delivery] = WebhookDelivery.objects.all()
        delivery_attempt(delivery_id=delivery.id)
    finally:
        receiver.stop()
    assert (
        _sample("gateway_webhook_attempts_total", outcome="http_error") == before["http_error"] + 1
    )
    assert _sample("gateway_webhook_deliveries_total", outcome="failed") == before["failed"] + 1
    assert _sample("gateway_webhook_attempt_duration_seconds_count") == before["timed"] + 1
