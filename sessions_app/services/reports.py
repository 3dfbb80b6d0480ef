"""Writes from the node reports' side: session and message statuses, incoming messages, and the
status setters the backend's own decisions (recovery, migration) share with them.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from typing import Any

import qrcode
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import UsageRecord
from billing.services import usage_record_add
from gateway.errors import MessageNotFound, SessionNotFound
from gateway.models import SystemLog, system_log
from sessions_app.models import OutboundMessage, Session
from sessions_app.webhooks import services as webhooks
from workers_app.models import Worker

S = Session.Status
M = OutboundMessage.Status

# Statuses in which the node is already working on the session.
STARTING = {S.INITIALIZING, S.QR_REQUIRED, S.PAIRING, S.RECONNECTING}


def session_status_set(session: Session, status: str, *, reason: str) -> None:
    """Set a session's status and reason in memory (the caller saves); clear stale QR/code.

    A change to CONNECTED, LOGGED_OUT or FAILED is written to the system log.
    """
    previous = session.status
    session.status = status
    session.status_reason = reason or ""
    session.status_changed_at = timezone.now()
    if status != S.QR_REQUIRED:
        session.qr_code = ""
        session.qr_string = ""
        session.qr_expires_at = None
    if status != S.PAIRING:
        session.pairing_code = ""
    if status == S.LOGGED_OUT:
        session.credential_store = ""  # the login is gone, wherever it was kept
    if previous != status and status in (S.CONNECTED, S.LOGGED_OUT, S.FAILED):
        level = SystemLog.Level.INFO if status == S.CONNECTED else SystemLog.Level.WARNING
        system_log(
            event=f"session.{status.lower()}",
            level=level,
            message=f"Session {session.name!r} {status}" + (f" ({reason})" if reason else ""),
            user_id=session.owner_id,
            session_id=session.id,
            worker_id=session.worker_id or "",
        )


def session_status_set_by_backend(
    session: Session, *, status: str, reason: str, now: datetime
) -> None:
    """Save a status the backend decided itself (a timeout, a lost or moved node) and emit it.

    `session` is locked by the caller. Reports the node made before this decision arrive late
    (from its outbox) and must not undo it, so `last_seen_at` becomes `now`: only reports
    with later timestamps apply.
    """
    before = (session.status, session.qr_string, session.pairing_code)
    session_status_set(session, status, reason=reason)
    session.last_seen_at = now
    session.save()
    webhooks.session_status_emit(session=session, before=before, timestamp=now)


def qr_png_data_url(qr_string: str) -> str:
    """Render a QR string as a PNG data URL (`data:image/png;base64,…`)."""
    image = qrcode.make(qr_string, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@transaction.atomic
def session_status_apply(
    *,
    session_id: str,
    status: str,
    timestamp: datetime,
    qr_string: str = "",
    qr_expires_at: datetime | None = None,
    pairing_code: str = "",
    phone_number: str = "",
    jid: str = "",
    reason: str = "",
    worker_id: str = "",
) -> Session:
    """Apply a node's session-status report. Raises SessionNotFound.

    Idempotent and ordered: a report older than the last one applied is ignored, and a repeat
    of the last one changes nothing. A QR report stores the QR, its PNG and its expiry; a
    CONNECTED report records the node's `session_store` as the session's `credential_store`.
    A report from node `worker_id` (when given) that is not the session's node is ignored: the
    session moved away from it. The returned session's `worker_id` then differs from it.
    """
    session = Session.objects.select_for_update().filter(id=session_id).first()
    if session is None:
        raise SessionNotFound()
    if worker_id and worker_id != session.worker_id:
        return session
    last = session.last_seen_at
    if last is not None and timestamp <= last:
        return session
    session.last_seen_at = timestamp
    before = (session.status, session.qr_string, session.pairing_code)
    session_status_set(session, status, reason=reason)
    if status == S.QR_REQUIRED and qr_string:
        session.qr_string = qr_string
        session.qr_code = qr_png_data_url(qr_string)
        session.qr_expires_at = qr_expires_at or timezone.now() + timedelta(
            seconds=settings.QR_DEFAULT_TTL_S
        )
    if status == S.PAIRING:
        session.pairing_code = pairing_code
    if status == S.CONNECTED:
        session.phone_number = phone_number or session.phone_number
        session.jid = jid or session.jid
        store = Worker.objects.filter(id=session.worker_id).values_list("session_store", flat=True)
        session.credential_store = store.first() or ""
    session.save()
    webhooks.session_status_emit(session=session, before=before, timestamp=timestamp)
    return session


# A status can only move forward: each status lists the ones it may replace.
_MESSAGE_STATUS_FROM = {
    M.SENT: {M.QUEUED},
    M.DELIVERED: {M.QUEUED, M.SENT},
    M.READ: {M.QUEUED, M.SENT, M.DELIVERED},
    M.FAILED: {M.QUEUED},
}
_MESSAGE_STATUS_AT = {
    M.SENT: "sent_at",
    M.DELIVERED: "delivered_at",
    M.READ: "read_at",
    M.FAILED: "failed_at",
}


@transaction.atomic
def message_status_apply(
    *,
    session_id: str,
    message_id: str,
    status: str,
    timestamp: datetime,
    wa_message_id: str = "",
    error_code: str = "",
    error_message: str = "",
) -> OutboundMessage:
    """Apply a node's message-status report. Raises MessageNotFound.

    A status never goes backwards (`read` is never replaced by `sent`), so repeats and reports
    that arrive out of order change nothing. The message is counted for usage once, when it
    first leaves `queued` for anything but `failed`.
    """
    message = (
        OutboundMessage.objects.select_for_update()
        .filter(id=message_id, session_id=session_id)
        .first()
    )
    if message is None:
        raise MessageNotFound()
    if message.status not in _MESSAGE_STATUS_FROM[status]:
        return message
    counted = message.status == M.QUEUED and status != M.FAILED
    message.status = status
    message.wa_message_id = wa_message_id or message.wa_message_id
    for step in (M.SENT, M.DELIVERED, M.READ):
        field = _MESSAGE_STATUS_AT[step]
        if getattr(message, field) is None and _rank(step) <= _rank(status):
            setattr(message, field, timestamp)
    if status == M.FAILED:
        message.failed_at = timestamp
        message.error_code = error_code or "send_failed"
        message.error_message = error_message[:300]
    message.save()
    webhooks.message_status_emit(message=message, timestamp=timestamp)
    if counted:
        usage_record_add(
            user_id=message.owner_id,
            session_id=message.session_id,
            api_key_id=message.api_key_id,
            kind=UsageRecord.Kind.MESSAGE_OUT,
            billing_date=timestamp.date(),
        )
    return message


def _rank(status: str) -> int:
    return {M.QUEUED: 0, M.SENT: 1, M.DELIVERED: 2, M.READ: 3}.get(status, -1)


def message_received_apply(*, session_id: str, message: dict[str, Any]) -> None:
    """Apply a node's report of an incoming message: count it for usage. Raises SessionNotFound.

    The message itself stays in the node's history; fan-out to the user's webhooks hooks in here.
    """
    session = Session.objects.filter(id=session_id).only("id", "owner_id").first()
    if session is None:
        raise SessionNotFound()
    usage_record_add(
        user_id=session.owner_id,
        session_id=session.id,
        api_key_id=None,
        kind=UsageRecord.Kind.MESSAGE_IN,
        billing_date=timezone.now().date(),
    )
    webhooks.message_received_emit(session=session, message=message)
