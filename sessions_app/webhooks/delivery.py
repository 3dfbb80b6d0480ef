"""Sending webhook deliveries: claim, check the URL again, sign, POST once, record, reschedule.

A task carries one endpoint's deliveries and makes them in order; a worker thread holds an
attempt for at most WEBHOOK_TIMEOUT_S and a task stops at the first attempt with no answer, so
a slow receiver only ever costs its own deliveries time. Retries are not
Celery countdowns (a Redis broker would redeliver hour-long ETAs after its visibility timeout and
workers would hold them in memory): a delivery stores `next_attempt_at` and the beat sweeper
enqueues the due ones.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from gateway.metrics import WEBHOOK_ATTEMPT_DURATION, WEBHOOK_ATTEMPTS, WEBHOOK_DELIVERIES
from gateway.netsafety import UnsafeUrl, check_url
from sessions_app.webhooks.client import HttpResult, http_post
from sessions_app.webhooks.endpoints import delivery_secrets, endpoint_disable
from sessions_app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sessions_app.webhooks.signing import signature_headers

logger = logging.getLogger(__name__)

D = WebhookDelivery.Status
USER_AGENT = "whatsapp-gateway-webhooks/1"


def retry_delay_s(*, step: int, retry_after_s: float | None = None) -> float | None:
    """Return the wait before automatic attempt `step + 1`, or None when the schedule is done.

    `step` is the number of automatic attempts made. The schedule's step is spread by
    ±WEBHOOK_RETRY_JITTER (a share) so receivers that come back are not hit all at once; a
    longer `Retry-After` wins, capped at WEBHOOK_RETRY_AFTER_MAX_S.
    """
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_S
    if step >= len(schedule):
        return None
    jitter = settings.WEBHOOK_RETRY_JITTER
    delay = float(schedule[step]) * random.uniform(1 - jitter, 1 + jitter)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, settings.WEBHOOK_RETRY_AFTER_MAX_S))
    return delay


def deliveries_attempt(*, delivery_ids: list[str]) -> list[WebhookAttempt]:
    """Make the due attempts of `delivery_ids` (one endpoint's, in order), one after another.

    When an attempt gets no answer at all (a timeout, a refused connection, an unsafe URL), the
    rest are not tried now: they go back to the sweeper, which enqueues them again within
    WEBHOOK_SWEEP_INTERVAL_S, so a receiver that hangs holds a worker for one timeout per task.
    The same holds when the endpoint already has WEBHOOK_ENDPOINT_MAX_IN_FLIGHT attempts in
    flight (other tasks): a slow receiver holds at most that many delivery threads.
    """
    attempts: list[WebhookAttempt] = []
    for n, delivery_id in enumerate(delivery_ids):
        attempt = delivery_attempt(delivery_id=delivery_id)
        if attempt is BUSY:  # this one and the rest wait for the sweeper
            rest = delivery_ids[n:]
        elif attempt is None:
            continue
        else:
            attempts.append(attempt)
            rest = delivery_ids[n + 1 :] if attempt.status_code is None else []
        if rest:
            WebhookDelivery.objects.filter(id__in=rest, status=D.PENDING).update(enqueued_at=None)
            break
    return attempts


class _Busy:
    """What delivery_attempt returns when the endpoint has its attempts in flight already."""


BUSY = _Busy()


def _claim(delivery_id: str, now: datetime) -> bool | _Busy:
    """Claim a due delivery (pending → sending) unless its endpoint is at its cap of attempts in
    flight. The endpoint's row is locked while counting, so two workers never pass the cap."""
    with transaction.atomic():
        endpoint_id = (
            WebhookDelivery.objects.filter(id=delivery_id).values_list("endpoint_id", flat=True)
        ).first()
        if endpoint_id is None:
            return False
        WebhookEndpoint.objects.select_for_update().filter(id=endpoint_id).first()
        in_flight = WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=D.SENDING)
        if in_flight.count() >= settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT:
            due = WebhookDelivery.objects.filter(
                id=delivery_id, status=D.PENDING, next_attempt_at__lte=now
            )
            return BUSY if due.exists() else False
        return bool(
            WebhookDelivery.objects.filter(
                id=delivery_id, status=D.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
            ).update(
                status=D.SENDING,
                claimed_at=now,
                enqueued_at=None,
                attempt_count=F("attempt_count") + 1,
                updated_at=now,
            )
        )


def delivery_attempt(*, delivery_id: str) -> WebhookAttempt | _Busy | None:
    """Make the due attempt of one delivery and record it; return the attempt.

    Claims the delivery with a conditional UPDATE (pending, due, endpoint enabled → sending), so
    of two workers given the same id only one sends; the other gets None, as does a delivery
    that is not due; BUSY when the endpoint has WEBHOOK_ENDPOINT_MAX_IN_FLIGHT attempts in
    flight. Checks the URL again (UnsafeUrl is recorded as a failed attempt), signs with
    every current secret, and sends with WEBHOOK_TIMEOUT_S. Afterwards: 2xx succeeds; 410
    disables the endpoint; anything else is retried on the schedule, and a delivery past the
    schedule fails and disables its endpoint unless that endpoint succeeded meanwhile.
    """
    now = timezone.now()
    claimed = _claim(delivery_id, now)
    if claimed is BUSY:
        return BUSY
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(id=delivery_id)
    endpoint = delivery.endpoint
    trigger = WebhookAttempt.Trigger.REPLAY if delivery.replay_requested else "auto"
    body = json.dumps(delivery.event.payload, separators=(",", ":"), ensure_ascii=False)
    started_at = timezone.now()
    started = time.monotonic()
    result: HttpResult | None = None
    error = ""
    outcome = "connection_error"  # its name in gateway_webhook_attempts_total
    try:
        checked = check_url(endpoint.url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signature_headers(
                msg_id=delivery.event_id,
                timestamp=started_at,
                body=body,
                secrets_=delivery_secrets(
                    endpoint,
                    event_type=delivery.event.type,
                    session_id=delivery.event.session_id,
                    now=started_at,
                ),
                hub_secret=endpoint.secret if endpoint.hub_signature else None,
            ),
        }
        result = http_post(
            checked=checked,
            body=body.encode(),
            headers=headers,
            timeout_s=settings.WEBHOOK_TIMEOUT_S,
        )
    except UnsafeUrl as exc:
        error, outcome = f"unsafe_url: {exc.message}", "unsafe_url"
    except TimeoutError:
        error = f"timeout: no answer within {settings.WEBHOOK_TIMEOUT_S:g} s"
        outcome = "timeout"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_s = time.monotonic() - started
    duration_ms = int(duration_s * 1000)
    success = result is not None and 200 <= result.status < 300
    if result is not None and not success:
        error = f"HTTP {result.status}"
    if result is not None:
        outcome = "success" if success else "http_error"
    WEBHOOK_ATTEMPTS.labels(outcome).inc()
    WEBHOOK_ATTEMPT_DURATION.observe(duration_s)
    attempt = WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempt_count,
        trigger=trigger,
        started_at=started_at,
        duration_ms=duration_ms,
        status_code=result.status if result else None,
        success=success,
        response_snippet=result.snippet if result else "",
        error=error[:300],
    )
    _settle(delivery, attempt, result)
    return attempt


def _settle(delivery: WebhookDelivery, attempt: WebhookAttempt, result: HttpResult | None) -> None:
    now = timezone.now()
    auto = attempt.trigger == WebhookAttempt.Trigger.AUTO
    step = delivery.schedule_step + (1 if auto else 0)
    fields = {
        "schedule_step": step,
        "replay_requested": False,
        "claimed_at": None,
        "last_status_code": attempt.status_code,
        "last_error": attempt.error,
        "updated_at": now,
    }
    endpoint = delivery.endpoint
    if attempt.success:
        fields.update(status=D.SUCCEEDED, completed_at=now, next_attempt_at=None)
    elif result is not None and result.status == 410:
        fields.update(status=D.FAILED, completed_at=now, next_attempt_at=None)
    else:
        delay = retry_delay_s(step=step, retry_after_s=result.retry_after_s if result else None)
        if delay is None:
            fields.update(status=D.FAILED, completed_at=now, next_attempt_at=None)
        else:
            fields.update(status=D.PENDING, next_attempt_at=now + timedelta(seconds=delay))
    settled = WebhookDelivery.objects.filter(id=delivery.id, status=D.SENDING).update(**fields)
    if settled and fields["status"] in (D.SUCCEEDED, D.FAILED):
        WEBHOOK_DELIVERIES.labels(
            "succeeded" if fields["status"] == D.SUCCEEDED else "failed"
        ).inc()
    if result is not None and result.status == 410:
        endpoint_disable(
            endpoint=endpoint,
            reason=f"The receiver answered 410 Gone on {_when(now)}; deliveries stopped.",
        )
    elif fields["status"] == D.FAILED and auto and _failing_since(endpoint, delivery.created_at):
        hours = (now - delivery.created_at).total_seconds() / 3600
        endpoint_disable(
            endpoint=endpoint,
            reason=(
                f"Every attempt failed for {hours:.1f} h, through the whole retry schedule "
                f"(last: {attempt.error or 'no answer'}); disabled on {_when(now)}."
            ),
        )


def _failing_since(endpoint: WebhookEndpoint, since: datetime) -> bool:
    return not endpoint.deliveries.filter(status=D.SUCCEEDED, completed_at__gte=since).exists()


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def deliveries_sweep(*, enqueue: Callable[[list[str]], None], limit: int | None = None) -> int:
    """Enqueue the deliveries that are due; return how many.

    Due: pending with `next_attempt_at` passed, and not enqueued in the last
    WEBHOOK_REQUEUE_AFTER_S (a queued task not yet run). Deliveries stuck in `sending` longer
    than WEBHOOK_TIMEOUT_S + WEBHOOK_REQUEUE_AFTER_S (a worker died mid-attempt) go back to
    pending first. Marks them enqueued with a conditional UPDATE, so two sweepers never enqueue
    the same delivery twice in one round. `enqueue` gets the ids (after commit).
    """
    now = timezone.now()
    requeue_after = timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_S)
    stuck_before = now - timedelta(seconds=settings.WEBHOOK_TIMEOUT_S) - requeue_after
    WebhookDelivery.objects.filter(status=D.SENDING, claimed_at__lt=stuck_before).update(
        status=D.PENDING, claimed_at=None, next_attempt_at=now, updated_at=now
    )
    due = (
        WebhookDelivery.objects.filter(
            status=D.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
        )
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[: limit or settings.WEBHOOK_SWEEP_BATCH]
    )
    ids = list(due)
    marked = []
    with transaction.atomic():
        for delivery_id in ids:
            if (
                WebhookDelivery.objects.filter(id=delivery_id, status=D.PENDING)
                .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after))
                .update(enqueued_at=now)
            ):
                marked.append(delivery_id)
        if marked:
            transaction.on_commit(lambda: enqueue(marked))
    return len(marked)
