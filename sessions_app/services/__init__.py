"""Writes for sessions and outbound messages: the user's side here, the node reports' side in
`reports` (re-exported, so callers import every session service from `sessions_app.services`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from gateway.errors import SessionNotConnected
from gateway.models import system_log
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
from sessions_app.node_client import node_publish_on_commit, session_start_kwargs
from sessions_app.services.reports import (
    STARTING,
    message_received_apply,
    message_status_apply,
    qr_png_data_url,
    session_status_apply,
    session_status_set,
    session_status_set_by_backend,
)
from workers_app.models import Worker
from workers_app.services import NoWorkerAvailable, worker_pick

__all__ = [
    "STARTABLE",
    "STARTING",
    "message_received_apply",
    "message_send",
    "message_status_apply",
    "qr_png_data_url",
    "sandbox_action",
    "sandbox_scan",
    "session_connect",
    "session_create",
    "session_delete",
    "session_disconnect",
    "session_logout",
    "session_status_apply",
    "session_status_set",
    "session_status_set_by_backend",
]

S = Session.Status

# Statuses from which a (re)connect starts the session on a node again.
STARTABLE = {S.DISCONNECTED, S.LOGGED_OUT, S.FAILED}


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
    already has an ONLINE node goes back to it, since its credentials live there; otherwise a
    node sharing the session's `credential_store` is preferred (it resumes without a scan), then
    any node with room. Raises
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
        worker = _worker_pick_for(session)
    session.worker = worker
    session.connect_method = method
    session_status_set(session, S.INITIALIZING, reason="")
    session.save()
    node_publish_on_commit(
        worker_id=worker.id,
        task="session_start",
        kwargs=session_start_kwargs(session, method=method, phone_number=phone_number),
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


def _worker_pick_for(session: Session) -> Worker:
    # A node sharing the store that holds the session's login resumes it without a new scan.
    if session.credential_store:
        try:
            return worker_pick(engine=session.engine, store=session.credential_store)
        except NoWorkerAvailable:
            pass
    return worker_pick(engine=session.engine)


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
    """Delete a session: its node logs it out and forgets it; its ledger rows go with it.

    Every other registered node is told too: a node the session ran on before (it moved, or was
    placed elsewhere after its node was lost) still keeps its history and perhaps credentials.
    A node that never had it does nothing; one that is down does it when it is back.
    """
    others = Worker.objects.exclude(id=session.worker_id or "").values_list("id", flat=True)
    for worker_id in [session.worker_id, *others]:
        if worker_id:
            node_publish_on_commit(
                worker_id=worker_id, task="session_delete", kwargs={"sessionId": session.id}
            )
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
