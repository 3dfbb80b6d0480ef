"""Writes for sessions and outbound messages: the user's side and the node reports' side."""

from __future__ import annotations

import base64
import io
import logging
from datetime import datetime, timedelta
from typing import Any

import qrcode
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from billing.models import UsageRecord
from billing.services import usage_record_add
from gateway.errors import MessageNotFound, SessionNotConnected, SessionNotFound
from gateway.models import SystemLog, system_log
from sessions_app.errors import (
    IdempotencyKeyMismatch,
    NotSandboxSession,
    PhoneNumberRequired,
    QrExpired,
    SessionAlreadyConnected,
    SessionHasNoNode,
    SessionNotAwaitingScan,
)
from sessions_app.models import OutboundMessage, Session
from sessions_app.node_client import node_publish_on_commit, route_set
from sessions_app.webhooks import services as webhooks
from workers_app.services import worker_pick

logger = logging.getLogger(__name__)

S = Session.Status
M = OutboundMessage.Status

# Statuses from which a (re)connect starts the session on a node again.
STARTABLE = {S.DISCONNECTED, S.LOGGED_OUT, S.FAILED}
# Statuses in which the node is already working on the session.
STARTING = {S.INITIALIZING, S.QR_REQUIRED, S.PAIRING, S.RECONNECTING}


# --- The user's side --------------------------------------------------------------------------


def session_create(*, owner: User, name: str, engine: str) -> Session:
    """Create a session card (phase 1): status DISCONNECTED, on no node yet."""
    session = Session.objects.create(owner=owner, name=name, engine=engine)
    system_log(
        event="session.created",
        message=f"Session {name!r} created ({engine})",
        user=owner,
        session_id=session.id,
    )
    return session


@transaction.atomic
def session_connect(
    *, owner: User, session: Session, method: str = "qr", phone_number: str = ""
) -> Session:
    """Start linking a session (phase 2): place it on a node and send it `session_start`.

    A session that is already starting is returned as it is (a repeat is safe). A session that
    already has a node goes back to it, since its credentials live there. Raises
    SessionAlreadyConnected, PhoneNumberRequired or NoWorkerAvailable (then nothing changes).
    """
    session = Session.objects.select_for_update().get(id=session.id, owner=owner)
    if session.status == S.CONNECTED:
        raise SessionAlreadyConnected()
    if session.status in STARTING:
        return session
    if method == "pairing_code" and not phone_number:
        raise PhoneNumberRequired()
    worker = session.worker
    if (
        worker is None
        or worker.status != worker.Status.ONLINE
        or session.engine not in worker.engines
    ):
        worker = worker_pick(engine=session.engine)
    session.worker = worker
    session.connect_method = method
    session_status_set(session, S.INITIALIZING, reason="")
    session.save()
    route_set(session_id=session.id, worker_id=worker.id)
    node_publish_on_commit(
        worker_id=worker.id,
        task="session_start",
        kwargs={
            "sessionId": session.id,
            "userId": owner.id,
            "engine": session.engine,
            "method": method,
            "phoneNumber": phone_number or None,
        },
    )
    return session


def session_disconnect(*, owner: User, session: Session) -> Session:
    """Stop the session on its node but keep its login (reconnect needs no new scan)."""
    return _session_end(
        owner=owner,
        session=session,
        task="session_stop",
        status=S.DISCONNECTED,
        reason="disconnected_by_user",
    )


def session_logout(*, owner: User, session: Session) -> Session:
    """Unlink the device from the phone's account; the next connect needs a new scan."""
    return _session_end(
        owner=owner,
        session=session,
        task="session_logout",
        status=S.LOGGED_OUT,
        reason="logged_out_by_user",
    )


@transaction.atomic
def _session_end(*, owner: User, session: Session, task: str, status: str, reason: str) -> Session:
    session = Session.objects.select_for_update().get(id=session.id, owner=owner)
    if session.worker_id:
        node_publish_on_commit(
            worker_id=session.worker_id, task=task, kwargs={"sessionId": session.id}
        )
    session_status_set(session, status, reason=reason)
    session.save()
    return session


@transaction.atomic
def session_delete(*, owner: User, session: Session) -> None:
    """Delete a session: its node logs it out and forgets it; its ledger rows go with it."""
    if session.worker_id:
        node_publish_on_commit(
            worker_id=session.worker_id, task="session_delete", kwargs={"sessionId": session.id}
        )
    route_set(session_id=session.id, worker_id=None)
    Session.objects.filter(id=session.id, owner=owner).delete()
    system_log(
        event="session.deleted",
        message=f"Session {session.name!r} deleted",
        user=owner,
        session_id=session.id,
    )


def sandbox_scan(
    *, owner: User, session: Session, phone_number: str = "", qr_string: str = ""
) -> Session:
    """Have the sandbox phone scan the session's current QR (or enter its pairing code).

    `qr_string`, when given, must be the current, unexpired QR. Raises NotSandboxSession,
    SessionNotAwaitingScan or QrExpired.
    """
    if session.engine != Session.Engine.SANDBOX:
        raise NotSandboxSession()
    if session.status not in (S.QR_REQUIRED, S.PAIRING) or not session.worker_id:
        raise SessionNotAwaitingScan()
    if session.status == S.QR_REQUIRED:
        expired = session.qr_expires_at is None or session.qr_expires_at <= timezone.now()
        if expired or (qr_string and qr_string != session.qr_string):
            raise QrExpired()
        qr_string = session.qr_string
    sandbox_action(
        owner=owner,
        session=session,
        action="scan",
        params={"phoneNumber": phone_number or None, "qrString": qr_string or None},
    )
    return session


def sandbox_action(*, owner: User, session: Session, action: str, params: dict[str, Any]) -> None:
    """Send a sandbox phone action (`scan`, `incoming`, `logout`, `disconnect`) to the node.

    Raises NotSandboxSession, SessionHasNoNode, or SessionNotConnected (every action but
    `scan` needs a connected session).
    """
    if session.engine != Session.Engine.SANDBOX:
        raise NotSandboxSession()
    if not session.worker_id:
        raise SessionHasNoNode()
    if action in ("incoming", "logout", "disconnect") and session.status != S.CONNECTED:
        raise SessionNotConnected()
    with transaction.atomic():
        node_publish_on_commit(
            worker_id=session.worker_id,
            task="sandbox_action",
            kwargs={"sessionId": session.id, "action": action, "params": params},
        )


def message_send(
    *,
    owner: User,
    session: Session,
    api_key: ApiKey | None,
    to: str,
    chat_jid: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
) -> tuple[OutboundMessage, bool]:
    """Record an outbound message and publish it to the session's node after commit.

    `to` is E.164 digits (already normalized), `payload` the node's message body without
    `to`/`chatId`. A repeated `idempotency_key` with the same body returns the first message
    and sends nothing (`created` is False); with another body raises IdempotencyKeyMismatch.
    Raises SessionNotConnected. One short transaction: one insert, no query per item.
    """
    body = {"to": to, "chatId": chat_jid, **payload}
    if idempotency_key:
        existing = OutboundMessage.objects.filter(
            owner=owner, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return _idempotent_repeat(existing, session, body), False
    if session.status != S.CONNECTED or not session.worker_id:
        raise SessionNotConnected()
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                owner=owner,
                session=session,
                api_key=api_key,
                to=to,
                chat_jid=chat_jid,
                type=payload.get("type", "text"),
                payload=body,
                idempotency_key=idempotency_key or "",
            )
            node_publish_on_commit(
                worker_id=session.worker_id,
                task="message_send",
                kwargs={"messageId": message.id, "sessionId": session.id, "payload": body},
            )
    except Exception as exc:
        # Two requests raced with the same key: the loser answers with the winner's message.
        if idempotency_key and _is_unique_violation(exc):
            existing = OutboundMessage.objects.get(owner=owner, idempotency_key=idempotency_key)
            return _idempotent_repeat(existing, session, body), False
        raise
    return message, True


def _idempotent_repeat(
    existing: OutboundMessage, session: Session, body: dict[str, Any]
) -> OutboundMessage:
    if existing.session_id != session.id or existing.payload != body:
        raise IdempotencyKeyMismatch()
    return existing


def _is_unique_violation(exc: Exception) -> bool:
    from django.db import IntegrityError

    return isinstance(exc, IntegrityError)


# --- The node's side (reports through the webhook views) ---------------------------------------


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
) -> Session:
    """Apply a node's session-status report. Raises SessionNotFound.

    Idempotent and ordered: a report older than the last one applied is ignored, and a repeat
    of the last one changes nothing. A QR report stores the QR, its PNG and its expiry.
    """
    session = Session.objects.select_for_update().filter(id=session_id).first()
    if session is None:
        raise SessionNotFound()
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
