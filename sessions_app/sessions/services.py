"""Writes for sessions: the user's lifecycle (create, connect, stop, log out, delete), the
statuses nodes report, and the statuses the backend decides itself (timeouts, moves).

The fleet (`workers_app.fleet`) moves sessions between nodes through `session_reassign`,
`session_handover_settle`, `session_start_task` and `session_status_set_by_backend`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from billing.selectors import engine_check, limits_for, plan_limit_check
from gateway.models import system_log
from node_agent.protocol import NodeTask, SessionDelete, SessionLogout, SessionStart, SessionStop
from sessions_app.errors import PhoneNumberRequired, SessionAlreadyConnected, SessionNotFound
from sessions_app.reasons import NODE_MOVED
from sessions_app.sessions.models import Session
from sessions_app.sessions.selectors import session_reported
from sessions_app.sessions.status import STARTING, qr_png_data_url, session_status_set
from sessions_app.webhooks.events import event_emit, session_status_emit
from workers_app.models import Worker
from workers_app.node_client import node_publish_on_commit
from workers_app.placement import worker_pick_for

S = Session.Status


@transaction.atomic
def session_create(*, owner: User, name: str, engine: str) -> Session:
    """Create a session card (phase 1): status DISCONNECTED, on no node yet.

    Raises EngineDisabled or PlanLimitReached (the engine, or the plan's `max_sessions`
    counting every session of the owner); then nothing is written. The owner's row is locked so
    concurrent creates are counted one after the other.
    """
    limits = limits_for(owner)
    engine_check(limits=limits, engine=engine)
    User.objects.select_for_update().filter(id=owner.id).first()
    held = Session.objects.filter(owner=owner).count()
    plan_limit_check(limits=limits, limit="max_sessions", used=held, what="sessions")
    session = Session.objects.create(owner=owner, name=name, engine=engine)
    system_log(
        event="session.created",
        message=f"Session {name!r} created ({engine})",
        user=owner,
        session_id=session.id,
    )
    return session


def session_start_task(
    session: Session, *, method: str | None = None, phone_number: str = ""
) -> SessionStart:
    """Return the `session_start` task of `session` (its last connect method by default)."""
    return SessionStart(
        session_id=session.id,
        user_id=session.owner_id,
        engine=session.engine,
        method=method or session.connect_method or "qr",
        phone_number=phone_number or None,
        calls=session.call_policy or None,
    )


@transaction.atomic
def session_connect(
    *, owner: User, session: Session, method: str = "qr", phone_number: str = ""
) -> Session:
    """Start linking a session (phase 2): place it on a node and send it `session_start`.

    A session that is already starting is returned as it is (a repeat is safe). A session whose
    node is ONLINE and runs its engine goes back to it, since its login may live there; else
    `workers_app.placement.worker_pick_for` chooses (a node of its login's store first).
    `phone_number` (E.164 digits) is needed for the `pairing_code` method. Raises
    SessionAlreadyConnected, PhoneNumberRequired, NoWorkerAvailable, EngineDisabled or
    PlanLimitReached (more sessions holding a connection than the plan's `max_sessions`, after
    an operator lowered it); then nothing changes.
    """
    session = Session.objects.select_for_update().get(id=session.id, owner=owner)
    if session.status == S.CONNECTED:
        raise SessionAlreadyConnected()
    if session.status in STARTING:
        return session
    limits = limits_for(owner)
    engine_check(limits=limits, engine=session.engine)
    holding = Session.objects.filter(owner=owner, status__in=[*STARTING, S.CONNECTED]).count()
    plan_limit_check(limits=limits, limit="max_sessions", used=holding, what="connected sessions")
    if method == "pairing_code" and not phone_number:
        raise PhoneNumberRequired()
    worker = session.worker
    if (
        worker is None
        or worker.status != worker.Status.ONLINE
        or session.engine not in worker.engines
    ):
        worker = worker_pick_for(engine=session.engine, session_store=session.session_store)
    session.worker = worker
    session.connect_method = method
    _status_save(session, S.INITIALIZING, reason="")
    node_publish_on_commit(
        worker_id=worker.id,
        task=session_start_task(session, method=method, phone_number=phone_number),
    )
    return session


def session_disconnect(*, owner: User, session: Session) -> Session:
    """Stop the session on its node but keep its login (reconnect needs no new scan)."""
    return _session_end(
        owner=owner,
        session=session,
        task=SessionStop(session_id=session.id),
        status=S.DISCONNECTED,
        reason="disconnected_by_user",
    )


def session_logout(*, owner: User, session: Session) -> Session:
    """Unlink the device from the phone's account; the next connect needs a new scan."""
    return _session_end(
        owner=owner,
        session=session,
        task=SessionLogout(session_id=session.id),
        status=S.LOGGED_OUT,
        reason="logged_out_by_user",
    )


@transaction.atomic
def _session_end(
    *, owner: User, session: Session, task: NodeTask, status: str, reason: str
) -> Session:
    session = Session.objects.select_for_update().get(id=session.id, owner=owner)
    if session.worker_id:
        node_publish_on_commit(worker_id=session.worker_id, task=task)
    _status_save(session, status, reason=reason)
    return session


def _status_save(session: Session, status: str, *, reason: str) -> None:
    """Save a status a user's action set, and emit `session.status` for it.

    Unlike the backend's own decisions (`session_status_set_by_backend`) it does not hold back
    the node's reports: the node answers the action with reports of its own, stamped by its
    clock, which must apply.
    """
    before = (session.status, session.qr_string, session.pairing_code)
    session_status_set(session, status, reason=reason)
    session.save()
    session_status_emit(session=session, before=before, timestamp=timezone.now())


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
            node_publish_on_commit(worker_id=worker_id, task=SessionDelete(session_id=session.id))
    Session.objects.filter(id=session.id, owner=owner).delete()
    system_log(
        event="session.deleted",
        message=f"Session {session.name!r} deleted",
        user=owner,
        session_id=session.id,
    )


# --- Statuses the backend decides ----------------------------------------------------------


def session_status_set_by_backend(
    session: Session, *, status: str, reason: str, now: datetime
) -> None:
    """Save a status the backend decided itself (a timeout, a lost or moved node) and emit it.

    `session` is locked by the caller. Reports the node made before this decision arrive late
    (from its outbox) and must not undo it, so `last_seen_at` becomes `now`: only reports
    with later timestamps apply. Emits `session.status`.
    """
    before = (session.status, session.qr_string, session.pairing_code)
    session_status_set(session, status, reason=reason)
    session.last_seen_at = now
    session.save()
    session_status_emit(session=session, before=before, timestamp=now)


def session_reassign(session: Session, *, worker: Worker, moved_from: str, now: datetime) -> None:
    """Point `session` (locked by the caller) at node `worker` as RECONNECTING (`node_moved`).

    `moved_from` is the live node that hands it over ("" when the former node is dead: the
    target starts it at once). The target's first report ends the move; one that never comes
    ends it FAILED (`start_timeout`, see `sessions_fail_stalled`). Emits `session.status`.
    """
    session.worker = worker
    session.moved_from = moved_from
    session_status_set_by_backend(session, status=S.RECONNECTING, reason=NODE_MOVED, now=now)


def session_handover_settle(session: Session) -> None:
    """Forget the node a moving session (locked) was being handed over from: it died first."""
    session.moved_from = ""
    session.save(update_fields=["moved_from"])


def sessions_fail_stalled() -> int:
    """Mark FAILED (`start_timeout`) the starts and moves stuck longer than SESSION_START_TIMEOUT_S.

    INITIALIZING is set by connect and left by the node's first report (QR, pairing code,
    connected, failed), so a session still in it got no report: the node never received the
    start or could not act on it. Likewise RECONNECTING with `node_moved` is set by a move
    (`workers_app.fleet.moves`) and left by the new node's first report; a move can stall when
    the old node never runs its stop (which publishes the start) or the new node never starts.
    The node is not told to stop: if it was only slow, its next reports (later timestamps) bring
    the session back to life; otherwise the user connects again, which sends a new start.
    Safe to run concurrently (rows another run holds are skipped). Returns how many failed.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.SESSION_START_TIMEOUT_S)
    failed = 0
    with transaction.atomic():
        stalled = Session.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            Q(status=S.INITIALIZING) | Q(status=S.RECONNECTING, status_reason=NODE_MOVED),
            status_changed_at__lt=cutoff,
        )
        for session in stalled:
            session_status_set_by_backend(session, status=S.FAILED, reason="start_timeout", now=now)
            failed += 1
    return failed


# --- Statuses nodes report ---------------------------------------------------------------


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
    CONNECTED report records the node's `session_store` as the session's, and `linked_at` when
    its phone number is new to the session (the new-number cap counts from it). A report from node
    `worker_id` (when given) that is not the session's node is ignored: the session moved away
    from it. The returned session's `worker_id` then differs from it. Emits `session.status`.
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
        if session.linked_at is None or (phone_number and phone_number != session.phone_number):
            session.linked_at = timestamp  # a number linked afresh (its cap counts from here)
        session.phone_number = phone_number or session.phone_number
        session.jid = jid or session.jid
        store = Worker.objects.filter(id=session.worker_id).values_list("session_store", flat=True)
        session.session_store = store.first() or ""
    session.save()
    session_status_emit(session=session, before=before, timestamp=timestamp)
    return session


def session_event_apply(
    *,
    session_id: str,
    type_: str,
    event_id: str,
    data: dict[str, Any],
    node_id: str | None = None,
    claimed: str = "",
) -> None:
    """Apply a node's report of a session's event (protocol.SessionEventReport, and the group
    events): emit `type_` (a webhooks.models.EVENT_TYPES entry) with data {sessionId, **data},
    once per (session, `event_id`).

    Only from a node that serves the session (`session_reported`: `node_id` is the reporting
    node's credential, None the shared token; `claimed` the node the report names). Raises
    SessionNotFound, also for a session of another node.
    """
    session = session_reported(session_id=session_id, node_id=node_id, claimed=claimed)
    event_emit(
        owner_id=session.owner_id,
        session_id=session.id,
        type_=type_,
        data={**data, "sessionId": session.id},  # the report's data never names another
        dedupe_key=f"{session.id}:{event_id}",
    )


def call_policy_set(*, session: Session, policy: dict[str, Any]) -> Session:
    """Keep the session's call policy {reject, message}; its node gets it with every
    session_start (the caller tells a running node itself)."""
    session.call_policy = {"reject": bool(policy["reject"]), "message": policy.get("message", "")}
    session.save(update_fields=["call_policy", "updated_at"])
    return session
