import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.netsafety import UnsafeUrl
from sessions_app.webhooks import events, tasks
from sessions_app.webhooks.delivery import deliveries_attempt, deliveries_sweep, delivery_attempt
from sessions_app.webhooks.endpoints import endpoint_create, endpoint_rotate_secret
from sessions_app.webhooks.events import delivery_replay, message_received_emit
from sessions_app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sessions_app.webhooks.signing import secret_generate
from tests.factories import SessionFactory
from tests.sessions_app.webhooks.receiver import Receiver

D = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_RETRY_SCHEDULE_S = [0, 0.05, 0.05, 0.05]
    settings.WEBHOOK_RETRY_JITTER = 0.0
    settings.WEBHOOK_TIMEOUT_S = 2.0
    settings.WEBHOOK_REQUEUE_AFTER_S = 0.0  # the tests act as the worker: enqueue at once


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def _emit(user, session, text="hi", msg_id="m1"):
    with _no_enqueue():
        message_received_emit(
            session=session,
            message={"id": msg_id, "from": "15550001", "type": "text", "text": text},
        )


class _no_enqueue:
    """Keep the on-commit enqueue from reaching the broker; the test drives attempts itself."""

    def __enter__(self):
        self._orig = events.deliveries_enqueue
        events.deliveries_enqueue = lambda ids: None

    def __exit__(self, *exc):
        events.deliveries_enqueue = self._orig


def _run_due(limit_rounds=50):
    """Act as beat + worker: sweep, then attempt every due delivery, until nothing is pending."""
    for _ in range(limit_rounds):
        ids = []
        deliveries_sweep(enqueue=ids.extend)
        for delivery_id in ids:
            delivery_attempt(delivery_id=delivery_id)
        if not WebhookDelivery.objects.filter(status=D.PENDING).exists():
            return
        time.sleep(0.06)


@pytest.mark.django_db(transaction=True)
def test_incoming_message_is_delivered_signed_and_verifiable(user, receiver):
    session = SessionFactory(owner=user)
    endpoint = endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    _emit(user, session, text="Halo")
    _run_due()

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "message.received"
    assert payload["sessionId"] == session.id
    assert payload["data"]["message"]["text"] == "Halo"
    assert request.headers["webhook-id"] == payload["id"]
    assert payload["id"].startswith("evt_")
    assert endpoint.secret not in request.body.decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(request.body, request.headers)


@pytest.mark.django_db(transaction=True)
def test_500_twice_then_200_is_three_attempts_with_one_event_id(user, receiver):
    receiver.script = [(500, 0, {}), (500, 0, {})]
    session = SessionFactory(owner=user)
    endpoint_create(owner=user, url=receiver.url, event_types=["message.received"])
    _emit(user, session)
    _run_due()

    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3
    assert len(ids) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == D.SUCCEEDED
    codes = list(delivery.attempts.values_list("status_code", flat=True))
    assert codes == [500, 500, 200]
    assert all(a.duration_ms >= 0 for a in delivery.attempts.all())


@pytest.mark.django_db(transaction=True)
def test_slow_receiver_does_not_delay_another_users_receiver(user, other_user, settings):
    settings.WEBHOOK_TIMEOUT_S = 1.0
    slow = Receiver(default=(200, 3.0, {})).start()
    fast = Receiver().start()
    try:
        endpoint_create(owner=user, url=slow.url, event_types=["*"])
        endpoint_create(owner=other_user, url=fast.url, event_types=["*"])
        _emit(user, SessionFactory(owner=user))
        _emit(other_user, SessionFactory(owner=other_user))
        slow_id = WebhookDelivery.objects.get(endpoint__owner=user).id
        fast_id = WebhookDelivery.objects.get(endpoint__owner=other_user).id
        finished = {}

        def run(delivery_id):
            delivery_attempt(delivery_id=delivery_id)
            finished[delivery_id] = time.monotonic()
            connection.close()

        start = time.monotonic()
        threads = [threading.Thread(target=run, args=(i,)) for i in (slow_id, fast_id)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert finished[fast_id] < finished[slow_id]
        assert finished[fast_id] - start < 1.0
        # The slow one was cut off at its own timeout and is retried later.
        slow_attempt = WebhookAttempt.objects.get(delivery_id=slow_id)
        assert slow_attempt.error.startswith("timeout")
        assert 900 <= slow_attempt.duration_ms < 2500
        assert WebhookDelivery.objects.get(id=slow_id).status == D.PENDING
        assert WebhookDelivery.objects.get(id=fast_id).status == D.SUCCEEDED
    finally:
        slow.stop()
        fast.stop()


@pytest.mark.django_db(transaction=True)
def test_410_disables_the_endpoint_at_once(user, receiver):
    receiver.default = (410, 0, {})
    session = SessionFactory(owner=user)
    endpoint = endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    _emit(user, session, msg_id="a")
    _run_due()

    endpoint.refresh_from_db()
    assert len(receiver.requests) == 1
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().status == D.FAILED
    _emit(user, session, msg_id="b")  # a disabled endpoint gets nothing new
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_endpoint_failing_the_whole_schedule_is_disabled_with_a_reason(user, receiver):
    receiver.default = (503, 0, {})
    endpoint = endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    _emit(user, SessionFactory(owner=user))
    _run_due()

    endpoint.refresh_from_db()
    assert len(receiver.requests) == 4  # the whole (compressed) schedule
    assert not endpoint.enabled
    assert "whole retry schedule" in endpoint.disabled_reason
    assert "HTTP 503" in endpoint.disabled_reason


@pytest.mark.django_db(transaction=True)
def test_receiver_down_then_up_gets_everything_once(user, settings):
    settings.WEBHOOK_RETRY_SCHEDULE_S = [0, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
    probe = Receiver().start()
    url, port = probe.url, probe.port
    probe.stop()  # the port is now closed: connection refused
    session = SessionFactory(owner=user)
    endpoint_create(owner=user, url=url, event_types=["*"])
    for n in range(3):
        _emit(user, session, msg_id=f"m{n}")
    ids = []
    deliveries_sweep(enqueue=ids.extend)
    for delivery_id in ids:
        delivery_attempt(delivery_id=delivery_id)
    assert WebhookDelivery.objects.filter(status=D.PENDING).count() == 3
    assert all(a.error for a in WebhookAttempt.objects.all())

    revived = Receiver().start(port=port)
    try:
        _run_due()  # polls until the retries come due and succeed
        ids_seen = sorted(json.loads(r.body)["data"]["message"]["id"] for r in revived.requests)
        assert ids_seen == ["m0", "m1", "m2"]
        assert WebhookDelivery.objects.filter(status=D.SUCCEEDED).count() == 3
        _run_due()
        assert len(revived.requests) == 3
    finally:
        revived.stop()


@pytest.mark.django_db(transaction=True)
def test_replay_sends_the_same_event_id_again(user, receiver):
    endpoint = endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    _emit(user, SessionFactory(owner=user))
    _run_due()
    delivery = WebhookDelivery.objects.get()
    with _no_enqueue():
        delivery_replay(owner=user, delivery=delivery)
    delivery_attempt(delivery_id=delivery.id)

    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    Webhook(endpoint.secret).verify(receiver.requests[1].body, receiver.requests[1].headers)
    triggers = list(delivery.attempts.values_list("trigger", flat=True))
    assert triggers == ["auto", "replay"]
    delivery.refresh_from_db()
    assert delivery.status == D.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_private_url_is_refused_at_send_time(user, receiver, settings):
    session = SessionFactory(owner=user)
    endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    _emit(user, session)
    settings.ALLOW_PRIVATE_URLS = False
    _run_due(limit_rounds=1)

    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.error.startswith("unsafe_url")
    assert attempt.status_code is None


@pytest.mark.django_db
def test_private_url_is_refused_when_saved(user, settings):
    settings.ALLOW_PRIVATE_URLS = False
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.1/x", "ftp://example.com/x"):
        with pytest.raises(UnsafeUrl):
            endpoint_create(owner=user, url=url, event_types=["*"])
    settings.ALLOW_PRIVATE_URLS = True
    with pytest.raises(UnsafeUrl):
        endpoint_create(owner=user, url="http://169.254.169.254/", event_types=["*"])


@pytest.mark.django_db(transaction=True)
def test_same_url_twice_gets_one_delivery_per_event(user, receiver):
    session = SessionFactory(owner=user)
    endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    endpoint_create(
        owner=user,
        url=receiver.url.replace("127.0.0.1", "127.0.0.1:80").replace(":80:", ":"),
        event_types=["message.received"],
        session=session,
    )
    _emit(user, session)
    _emit(user, session)  # the node repeats its report
    _run_due()
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_rotation_signs_with_old_and_new_secret_until_the_overlap_ends(user, receiver):
    session = SessionFactory(owner=user)
    endpoint = endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    old = endpoint.secret
    endpoint = endpoint_rotate_secret(owner=user, endpoint=endpoint)
    assert endpoint.secret != old
    _emit(user, session, msg_id="a")
    _run_due()
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(endpoint.secret).verify(request.body, request.headers)

    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    _emit(user, session, msg_id="b")
    _run_due()
    request = receiver.requests[-1]
    Webhook(endpoint.secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request.body, request.headers)


@pytest.mark.django_db(transaction=True)
def test_hub_signature_is_sent_when_asked(user, receiver):
    import hashlib
    import hmac

    endpoint = endpoint_create(owner=user, url=receiver.url, event_types=["*"], hub_signature=True)
    _emit(user, SessionFactory(owner=user))
    _run_due()
    request = receiver.requests[0]
    expected = hmac.new(endpoint.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Hub-Signature-256"] == f"sha256={expected}"


@pytest.mark.django_db(transaction=True)
def test_retry_after_is_honoured_and_two_claims_send_once(user, receiver, settings):
    settings.WEBHOOK_RETRY_AFTER_MAX_S = 100
    receiver.script = [(429, 0, {"Retry-After": "30"})]
    _emit_endpoint = endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    assert _emit_endpoint
    _emit(user, SessionFactory(owner=user))
    delivery = WebhookDelivery.objects.get()
    assert delivery_attempt(delivery_id=delivery.id) is not None
    assert delivery_attempt(delivery_id=delivery.id) is None  # not due again
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 25 < wait <= 30
    assert len(receiver.requests) == 1


def test_webhook_tasks_are_routed_to_the_webhooks_queue_and_scheduled(settings):
    from gateway.celery import app

    app.loader.import_default_modules()
    for name in (
        "sessions_app.webhooks.tasks.deliver_webhooks",
        "sessions_app.webhooks.tasks.deliver_webhook",
        "sessions_app.webhooks.tasks.sweep_webhooks",
    ):
        assert name in app.tasks
        assert settings.CELERY_TASK_ROUTES[name] == {"queue": "webhooks"}
    assert settings.CELERY_BEAT_SCHEDULE["sweep-webhooks"]["task"].endswith("sweep_webhooks")


def test_deliver_tasks_only_call_the_service(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks, "deliveries_attempt", lambda **kw: calls.append(kw))
    tasks.deliver_webhooks(["whd_x", "whd_y"])
    tasks.deliver_webhook("whd_z")
    assert calls == [{"delivery_ids": ["whd_x", "whd_y"]}, {"delivery_ids": ["whd_z"]}]


def test_a_task_makes_its_endpoints_deliveries_in_order(user, receiver):
    endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    session = SessionFactory(owner=user)
    for n in range(3):
        _emit(user, session, text=f"n{n}", msg_id=f"m{n}")
    ids = list(WebhookDelivery.objects.order_by("created_at").values_list("id", flat=True))

    attempts = deliveries_attempt(delivery_ids=ids)

    assert [a.success for a in attempts] == [True] * 3
    texts = [json.loads(r.body)["data"]["message"]["text"] for r in receiver.requests]
    assert texts == ["n0", "n1", "n2"]


def test_a_task_stops_at_an_attempt_with_no_answer_and_leaves_the_rest_to_the_sweeper(
    user, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_S = 0.3
    settings.WEBHOOK_REQUEUE_AFTER_S = 120.0  # as in production: enqueued ones are not swept
    receiver.script = [(200, 1.0, {})]  # the first request hangs past the timeout
    endpoint_create(owner=user, url=receiver.url, event_types=["*"])
    session = SessionFactory(owner=user)
    for n in range(3):
        _emit(user, session, text=f"n{n}", msg_id=f"m{n}")
    ids = list(WebhookDelivery.objects.order_by("created_at").values_list("id", flat=True))

    started = time.monotonic()
    attempts = deliveries_attempt(delivery_ids=ids)

    assert time.monotonic() - started < 1.0  # one timeout, not three
    assert len(attempts) == 1
    assert attempts[0].error.startswith("timeout")
    rest = WebhookDelivery.objects.filter(id__in=ids[1:])
    assert set(rest.values_list("status", "attempt_count", "enqueued_at")) == {(D.PENDING, 0, None)}
    swept = []
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_sweep(enqueue=swept.extend)
    assert set(ids[1:]) <= set(swept)  # the sweeper queues them again at once
