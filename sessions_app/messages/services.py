"""Writes for messages: accepting a send, number checks (metered), incoming messages, and
republishing sends that got lost on the way to their node (the statuses nodes report:
statuses.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from billing.errors import RateLimited
from billing.models import UsageRecord
from billing.selectors import Limits, limits_for
from billing.services import quota_consume, quota_precheck, usage_record_add
from gateway.errors import GatewayError
from gateway.metrics import MESSAGES
from node_agent.protocol import NOT_CONNECTED, CheckNumber, MessageSend
from sessions_app.errors import IdempotencyKeyMismatch, SessionNotConnected, SessionNotFound
from sessions_app.media.services import media_discard_unsent
from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.payloads import build_payload, request_fingerprint
from sessions_app.messages.statuses import message_status_apply
from sessions_app.recipients import Recipient
from sessions_app.sessions.models import Session
from sessions_app.sessions.pacing import new_number_cap_check, send_pacing
from sessions_app.sessions.selectors import session_reported
from sessions_app.webhooks.events import message_received_emit, usage_threshold_emit
from workers_app.node_client import node_call, node_publish_on_commit

S = Session.Status
M = OutboundMessage.Status


def message_submit(
    *,
    owner: User,
    session: Session,
    api_key: ApiKey | None,
    values: dict[str, Any],
    upload: Any = None,
    idempotency_key: str | None = None,
) -> tuple[OutboundMessage, bool]:
    """Accept a validated send body (see `payloads.build_payload`) for `session`: build the
    node's payload, record the message and publish it. The API and the dashboard both send so.

    `values["to"]` is a Recipient. A repeat of an earlier `idempotency_key` is answered first,
    from the request's fingerprint, before any media is read or downloaded: the same request
    returns the first message (`created` False), another one raises IdempotencyKeyMismatch.
    Raises SessionNotConnected, NewNumberDailyCap and (when the send carries media)
    QuotaExceeded before any media is read, and the media errors of the payload builder; a
    media file kept for a send that is then refused is discarded unless another send uses it.
    """
    fingerprint = request_fingerprint(session=session, values=values, upload=upload)
    if idempotency_key:
        existing = OutboundMessage.objects.filter(
            owner=owner, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return _idempotent_repeat(existing, session, fingerprint), False
    # Refused before any media is read or kept: a refused request writes nothing.
    if not session.sendable:
        raise SessionNotConnected()
    new_number_cap_check(session=session, lock=False)
    carries_media = upload is not None or bool(values.get("media"))
    if carries_media:
        quota_precheck(user_id=owner.id, limits=limits_for(owner))
    recipient: Recipient = values["to"]
    payload = build_payload(owner=owner, session=session, values=values, upload=upload)
    try:
        return message_send(
            owner=owner,
            session=session,
            api_key=api_key,
            to=recipient.to,
            chat_jid=recipient.chat_jid,
            payload=payload,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
        )
    except GatewayError:
        if carries_media:  # refused after all (a concurrent send took the last of a quota)
            media_discard_unsent(media_id=payload["media"]["id"])
        raise


def message_send(
    *,
    owner: User,
    session: Session,
    api_key: ApiKey | None,
    to: str,
    chat_jid: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> tuple[OutboundMessage, bool]:
    """Record an outbound message and publish it to the session's node after commit.

    `to` is E.164 digits (already normalized), `payload` the node's message body without
    `to`/`chatId`, `request_hash` the request's fingerprint (`message_submit`; "" for none:
    then a repeat is told by its payload). A repeated `idempotency_key` of the same request
    returns the first message and sends nothing (`created` is False); of another one raises
    IdempotencyKeyMismatch. Raises SessionNotConnected, QuotaExceeded past the plan's
    messages per day or month, and NewNumberDailyCap past a new number's own daily cap (the
    session's pacing); then nothing is written or published. One short transaction: one insert
    (the unique key catches a repeat) and the quota's one UPDATE, no query per item (and, only
    while a new-number cap applies, the session's lock and its count of the day).
    """
    body = {"to": to, "chatId": chat_jid, **payload}
    asked = request_hash or body
    if not session.sendable:
        raise SessionNotConnected()
    limits = limits_for(owner)
    try:
        with transaction.atomic():
            new_number_cap_check(session=session)
            message = OutboundMessage.objects.create(
                owner=owner,
                session=session,
                api_key=api_key,
                to=to,
                chat_jid=chat_jid,
                type=payload.get("type", "text"),
                payload=body,
                node_id=session.worker_id,
                idempotency_key=idempotency_key or "",
                request_hash=request_hash,
            )
            # Last statement: the quota row stays locked until commit, so keep that short.
            for crossing in quota_consume(user_id=owner.id, limits=limits):
                usage_threshold_emit(owner_id=owner.id, tier=limits.tier, crossing=crossing)
            node_publish_on_commit(
                worker_id=session.worker_id,
                task=_send_task(message.id, session, body, limits),
            )
    except IntegrityError:
        # The key was used before (`message_submit` looks first; a direct caller does not), or
        # two requests raced with it: answer with the first message.
        if not idempotency_key:
            raise
        existing = OutboundMessage.objects.get(owner=owner, idempotency_key=idempotency_key)
        return _idempotent_repeat(existing, session, asked), False
    MESSAGES.labels(M.QUEUED, message.type).inc()  # a counter: no query on the send path
    return message, True


def _send_task(
    message_id: str, session: Session, body: dict[str, Any], limits: Limits
) -> MessageSend:
    """The node task of one send, with the plan's pace for the session's lane (0: unpaced)
    and the session's human-like pacing (None: none)."""
    return MessageSend(
        message_id=message_id,
        session_id=session.id,
        payload=body,
        rate_per_s=limits.send_rate_per_s or 0,
        burst=limits.send_burst,
        pacing=send_pacing(session),
    )


def _idempotent_repeat(
    existing: OutboundMessage, session: Session, asked: str | dict[str, Any]
) -> OutboundMessage:
    """Return `existing` if `asked` (a request fingerprint, or a payload) is what it was for.

    A fingerprint is compared with the one stored; a payload with the payload. A message
    stored before fingerprints were kept has none: it matches by its session alone (a repeat
    then never sends twice, at worst it answers the first message for a changed request).
    """
    if existing.session_id != session.id:
        raise IdempotencyKeyMismatch()
    if isinstance(asked, str):
        same = not existing.request_hash or existing.request_hash == asked
    else:
        same = existing.payload == asked
    if not same:
        raise IdempotencyKeyMismatch()
    return existing


# --- Number checks -------------------------------------------------------------------------


def number_check(
    *, owner: User, session: Session, api_key: ApiKey | None, phone: str
) -> dict[str, Any]:
    """Ask the session's node whether `phone` (E.164 digits) is on WhatsApp.

    Returns `{phone, onWhatsApp, jid}`; each answered check adds one `number_check` to the
    day's usage (a refused one adds nothing). The node spaces the session's checks at the plan's
    number checks per minute (node_agent/checks.py). Raises SessionNotFound,
    SessionNotConnected, RateLimited (429 `rate_limited`, `limit` "checks": the node had no
    check to spare soon enough), NodeTimeout (504) or NodeRequestFailed (502).
    """
    if session.owner_id != owner.pk:
        raise SessionNotFound()
    if not session.sendable:
        raise SessionNotConnected()
    answer = node_call(
        worker_id=session.worker_id,
        task=CheckNumber(
            session_id=session.id,
            phone=phone,
            rate_per_minute=limits_for(owner).number_checks_per_minute or 0,
        ),
        timeout_s=settings.NODE_RPC_TIMEOUT_S,
    )
    if answer.get("error") == NOT_CONNECTED:
        raise SessionNotConnected()
    if answer.get("error") == CheckNumber.RATE_LIMITED:
        retry_after_s = max(1, int(answer.get("retryAfterS") or 1))
        raise RateLimited(
            f"Number checks of this session are spaced on its node; retry in {retry_after_s} s.",
            retry_after_s=retry_after_s,
            limit="checks",
        )
    usage_record_add(
        user_id=owner.pk,
        session_id=session.id,
        api_key_id=api_key.pk if api_key else None,
        kind=UsageRecord.Kind.NUMBER_CHECK,
        billing_date=timezone.now().date(),
    )
    jid = answer.get("jid")
    return {"phone": phone, "onWhatsApp": bool(jid), "jid": jid}


# --- Messages nodes report ----------------------------------------------------------------


def message_received_apply(
    *, session_id: str, message: dict[str, Any], node_id: str | None = None, claimed: str = ""
) -> None:
    """Apply a node's report of an incoming message: count it, emit `message.received`.

    Only from a node that serves the session (`node_serves`): `node_id` is the reporting node's
    own credential (None: the shared token, when the node the report `claimed` must serve it).
    The message itself stays in the node's history. Raises SessionNotFound, also for a session
    of another node.
    """
    session = session_reported(session_id=session_id, node_id=node_id, claimed=claimed)
    usage_record_add(
        user_id=session.owner_id,
        session_id=session.id,
        api_key_id=None,
        kind=UsageRecord.Kind.MESSAGE_IN,
        billing_date=timezone.now().date(),
    )
    message_received_emit(session=session, message=message)


# --- Recovering sends the broker or a node lost --------------------------------------------


def messages_republish() -> int:
    """Publish again the messages left `queued` longer than MESSAGE_REQUEUE_AFTER_S.

    A message goes again to its session's node when the session is CONNECTED on a node; the
    node skips message ids it has already sent, so a republish never sends twice. A message of a
    session that is not connected stays queued (it goes out once the session runs again, on
    this node or another) until it is MESSAGE_QUEUED_MAX_AGE_S old: then it ends `failed` with
    `session_not_connected`. At most MESSAGE_REQUEUE_BATCH messages are published per run, oldest
    first. Safe to run concurrently (rows another run holds are skipped). Returns how many were
    published.
    """
    now = timezone.now()
    published = 0
    with transaction.atomic():
        # `updated_at` is when the row last changed or was last published, so a message is
        # republished at most once per interval however often the sweep runs.
        due = list(
            OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=M.QUEUED,
                updated_at__lt=now - timedelta(seconds=settings.MESSAGE_REQUEUE_AFTER_S),
                session__status=S.CONNECTED,
                session__worker__isnull=False,
            )
            .select_related("session", "owner__plan", "owner__plan_override")
            .order_by("created_at")[: settings.MESSAGE_REQUEUE_BATCH]
        )
        for message in due:
            node_publish_on_commit(
                worker_id=message.session.worker_id,
                task=_send_task(
                    message.id, message.session, message.payload, limits_for(message.owner)
                ),
            )
            published += 1
        for message in due:  # its new node may report it (the last one still may, by session)
            OutboundMessage.objects.filter(id=message.id).update(
                updated_at=now, node_id=message.session.worker_id
            )
    _messages_fail_unconnected(now=now)
    return published


def _messages_fail_unconnected(*, now: datetime) -> int:
    too_old = now - timedelta(seconds=settings.MESSAGE_QUEUED_MAX_AGE_S)
    stale = (
        OutboundMessage.objects.filter(status=M.QUEUED, created_at__lt=too_old)
        .exclude(session__status=S.CONNECTED, session__worker__isnull=False)
        .order_by("created_at")
        .values_list("id", "session_id")[: settings.MESSAGE_REQUEUE_BATCH]
    )
    failed = 0
    for message_id, session_id in list(stale):
        # The same path as a node's `failed` report: conditional on `queued`, emits the webhook.
        message = message_status_apply(
            session_id=session_id,
            message_id=message_id,
            status=M.FAILED,
            timestamp=now,
            error_code="session_not_connected",
            error_message="The session was not connected while the message waited to be sent.",
        )
        failed += message.status == M.FAILED
    return failed
