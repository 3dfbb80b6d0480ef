"""Events for users' webhooks: what happened, stored once, one delivery per endpoint URL.

Emitted where node reports and the backend's own decisions change a session or a message
(`sessions.services`, `messages.services`); each is stored once (a repeated report is recognised
by its dedupe key) and its deliveries are enqueued after the surrounding transaction commits.
Replaying a delivery by hand is here too; sending one is `delivery.py`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from billing.services import QuotaCrossing
from gateway.timefmt import iso_utc
from sessions_app.errors import DeliveryInProgress, ReplayWindowPassed, WebhookDisabled
from sessions_app.ids import new_event_id
from sessions_app.media.links import media_link
from sessions_app.media.models import MediaFile
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from sessions_app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from sessions_app.webhooks.monitor import monitor_watched
from sessions_app.webhooks.tasks import deliveries_enqueue, enqueues_coalesced

D = WebhookDelivery.Status

# Keys that would carry a file's bytes inline; they are never put in a payload.
_INLINE_MEDIA_KEYS = {"base64", "data", "bytes", "content", "body", "jpegThumbnail", "thumbnail"}


def event_emit(
    *,
    owner_id: int,
    session_id: str,
    type_: str,
    data: dict[str, Any],
    dedupe_key: str,
) -> WebhookEvent | None:
    """Store an event and one delivery per distinct endpoint URL; enqueue them after commit.

    Returns None when no enabled endpoint wants it and no one watches the owner's event monitor
    (nothing is stored), or when the same (`type_`, `dedupe_key`) was emitted before (a node
    repeating a report): a repeat is safe. Endpoints with the same normalized URL get one
    delivery, made by the oldest of them.
    """
    endpoints: dict[str, WebhookEndpoint] = {}
    for endpoint in _candidates(owner_id, session_id):
        if endpoint.wants(type_):
            endpoints.setdefault(endpoint.url_normalized, endpoint)
    if not endpoints and not monitor_watched(owner_id):
        return None
    now = timezone.now()
    payload = _envelope(type_, session_id, data, now)
    event_id = payload["id"]
    try:
        # A repeat fails the event's unique key first, and only this savepoint rolls back.
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                id=event_id,
                owner_id=owner_id,
                type=type_,
                dedupe_key=dedupe_key[:200],
                session_id=session_id,
                payload=payload,
                created_at=now,
            )
            deliveries = WebhookDelivery.objects.bulk_create(
                WebhookDelivery(
                    endpoint=endpoint,
                    event=event,
                    next_attempt_at=now,
                    enqueued_at=now,
                    created_at=now,
                )
                for endpoint in endpoints.values()
            )
            ids = [delivery.id for delivery in deliveries]
            if ids:
                transaction.on_commit(lambda: deliveries_enqueue(ids))
    except IntegrityError:
        return None
    return event


_batch = threading.local()


@contextlib.contextmanager
def emit_batch() -> Iterator[None]:
    """Emit many events at once (a node's batch of reports): inside the block each owner's
    endpoints are read once, and the deliveries are queued when it ends, a task per endpoint
    (webhooks.tasks.enqueues_coalesced)."""
    if getattr(_batch, "endpoints", None) is not None:
        yield
        return
    _batch.endpoints = {}
    try:
        with enqueues_coalesced():
            yield
    finally:
        _batch.endpoints = None


def _candidates(owner_id: int, session_id: str) -> list[WebhookEndpoint]:
    """The owner's enabled endpoints for this session (or all sessions), oldest first; for an
    account's event (`session_id` ""), every enabled endpoint of the owner."""
    memo = getattr(_batch, "endpoints", None)
    if memo is not None and (owner_id, session_id) in memo:
        return memo[(owner_id, session_id)]
    endpoints = WebhookEndpoint.objects.filter(owner_id=owner_id, enabled=True)
    if session_id:  # else an event of the whole account: every endpoint's
        endpoints = endpoints.filter(Q(session__isnull=True) | Q(session_id=session_id))
    found = list(endpoints.order_by("created_at", "id"))
    if memo is not None:
        memo[(owner_id, session_id)] = found
    return found


def session_status_emit(
    *, session: Session, before: tuple[str, str, str], timestamp: datetime
) -> None:
    """Emit what a report or a decision changed: `session.status` for the status (or a new
    pairing code), `session.qr` for a new QR code.

    `before` is (status, qr_string, pairing_code) from before the change. The first QR comes
    in both (`session.status` QR_REQUIRED carries it); each rotation after it only as
    `session.qr`, which an endpoint gets only when it names it.
    """
    status, qr_string, pairing_code = before
    if (status, pairing_code) != (session.status, session.pairing_code):
        event_emit(
            owner_id=session.owner_id,
            session_id=session.id,
            type_="session.status",
            data={
                "sessionId": session.id,
                "status": session.status,
                "reason": session.status_reason or None,
                "phoneNumber": session.phone_number or None,
                **_qr_fields(session),
                "pairingCode": session.pairing_code or None,
                "timestamp": iso_utc(timestamp),
            },
            dedupe_key=f"{session.id}:{session.status}:{timestamp.isoformat()}",
        )
    if session.qr_string and session.qr_string != qr_string:
        event_emit(
            owner_id=session.owner_id,
            session_id=session.id,
            type_="session.qr",
            data={"sessionId": session.id, **_qr_fields(session), "timestamp": iso_utc(timestamp)},
            dedupe_key=f"{session.id}:{timestamp.isoformat()}",
        )


def _qr_fields(session: Session) -> dict[str, Any]:
    return {
        "qrString": session.qr_string or None,
        "qrCode": session.qr_code or None,
        "qrExpiresAt": iso_utc(session.qr_expires_at) if session.qr_expires_at else None,
    }


def message_status_emit(*, message: OutboundMessage, timestamp: datetime) -> None:
    """Emit `message.status` for a status the message just moved to."""
    failed = message.status == OutboundMessage.Status.FAILED
    data = {
        "sessionId": message.session_id,
        "messageId": message.id,
        "waMessageId": message.wa_message_id or None,
        "to": message.to,
        "chatId": message.chat_jid,
        "status": message.status,
        "error": (
            {"code": message.error_code, "message": message.error_message} if failed else None
        ),
        "timestamp": iso_utc(timestamp),
    }
    event_emit(
        owner_id=message.owner_id,
        session_id=message.session_id,
        type_="message.status",
        data=data,
        dedupe_key=f"{message.id}:{message.status}",
    )


def message_received_emit(*, session: Session, message: dict[str, Any]) -> None:
    """Emit `message.received` for a node's incoming-message report (repeats are dropped).

    `message` is the report's (`node_agent.protocol.MessageReceivedReport`). Its `media` goes on
    without inline bytes; when it names a file the session's owner keeps (`media.id`, uploaded
    by the node), it gets the file's stored `mimetype`, `size` (bytes), `sha256` and
    `filename`, and a `url` that opens it without an API key until `urlExpiresAt`.
    """
    data = {key: value for key, value in message.items() if key != "media"}
    media = message.get("media")
    if isinstance(media, dict):
        data["media"] = _media_reference(session, media)
    event_emit(
        owner_id=session.owner_id,
        session_id=session.id,
        type_="message.received",
        data={"sessionId": session.id, "message": data},
        dedupe_key=f"{session.id}:{message.get('id')}",
    )


def _media_reference(session: Session, media: dict[str, Any]) -> dict[str, Any]:
    reference = {k: v for k, v in media.items() if k not in _INLINE_MEDIA_KEYS}
    # Only a file of this session's owner gets a link: a report names ids, and a link opens
    # whatever file it names.
    stored = MediaFile.objects.filter(
        id=str(reference.get("id") or ""), owner_id=session.owner_id
    ).first()
    if stored is None:
        reference.pop("sha256", None)
        return reference
    url, expires_at = media_link(stored)
    reference.update(
        id=stored.id,
        mimetype=stored.mimetype,
        size=stored.size,
        sha256=stored.sha256,
        filename=stored.filename or None,
        url=url,
        urlExpiresAt=iso_utc(expires_at),
    )
    return reference


def usage_threshold_emit(*, owner_id: int, tier: str, crossing: QuotaCrossing) -> None:
    """Tell every endpoint of the owner that a send took a quota to 80% or 100%: `usage.threshold`
    with data {period: day|month, percent, limit, used, resetsAt, tier}; once per period and
    threshold (its dedupe key), however many sends race at the mark. `sessionId` is null."""
    event_emit(
        owner_id=owner_id,
        session_id="",
        type_="usage.threshold",
        data={
            "period": crossing.period,
            "percent": crossing.percent,
            "limit": crossing.limit,
            "used": crossing.used,
            "resetsAt": iso_utc(crossing.resets_at),
            "tier": tier,
        },
        dedupe_key=f"{crossing.period}:{crossing.resets_at:%Y-%m-%d}:{crossing.percent}",
    )


def _envelope(type_: str, session_id: str | None, data: dict[str, Any], now: datetime) -> dict:
    """An event as receivers get it: {id (a new evt_ id), type, timestamp, sessionId, data}."""
    return {
        "id": new_event_id(),
        "type": type_,
        "timestamp": iso_utc(now),
        "sessionId": session_id or None,
        "data": data,
    }


# --- Test events and replay --------------------------------------------------------------------

TEST_EVENT = "webhook.test"


def test_event_send(*, owner: User, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send one `webhook.test` event to `endpoint` alone, whatever it subscribed to.

    Its `data` is `{webhookId, message}`; it is signed and retried like any event. Raises
    WebhookDisabled for a disabled endpoint. Enqueues after commit.
    """
    if not endpoint.enabled:
        raise WebhookDisabled()
    now = timezone.now()
    data = {"webhookId": endpoint.id, "message": "A test event sent from the dashboard."}
    payload = _envelope(TEST_EVENT, endpoint.session_id, data, now)
    event_id = payload["id"]
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            id=event_id,
            owner=owner,
            session_id=endpoint.session_id or "",
            type=TEST_EVENT,
            dedupe_key=event_id,
            payload=payload,
            created_at=now,
        )
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=event, next_attempt_at=now, enqueued_at=now, created_at=now
        )
        transaction.on_commit(lambda: deliveries_enqueue([delivery.id]))
    return delivery


def delivery_replay(*, owner: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with the same event id, as one more attempt.

    Raises WebhookDisabled, DeliveryInProgress, or ReplayWindowPassed (older than
    WEBHOOK_REPLAY_WINDOW_DAYS). Enqueues after commit.
    """
    if not delivery.endpoint.enabled:
        raise WebhookDisabled()
    now = timezone.now()
    if delivery.created_at < now - timedelta(days=settings.WEBHOOK_REPLAY_WINDOW_DAYS):
        raise ReplayWindowPassed()
    with transaction.atomic():
        changed = (
            WebhookDelivery.objects.filter(id=delivery.id)
            .exclude(status=D.SENDING)
            .update(
                status=D.PENDING,
                replay_requested=True,
                next_attempt_at=now,
                enqueued_at=now,
                completed_at=None,
                updated_at=now,
            )
        )
        if not changed:
            raise DeliveryInProgress()
        transaction.on_commit(lambda: deliveries_enqueue([delivery.id]))
    delivery.refresh_from_db()
    return delivery
