"""Writes that recover from lost work: unpublished messages, stalled starts and moves, dead nodes.

Each runs from Celery beat (sessions_app/tasks.py) or from the node health sweep, and each is
safe to run any number of times, also concurrently: rows are claimed with row locks that skip
rows another run holds, and every change is conditional on the state it replaces.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gateway.models import SystemLog, system_log
from sessions_app.models import OutboundMessage, Session
from sessions_app.node_client import node_publish_on_commit
from sessions_app.reasons import NODE_MOVED
from sessions_app.services import STARTING, message_status_apply, session_status_set_by_backend

S = Session.Status
M = OutboundMessage.Status


def messages_republish() -> int:
    """Publish again the messages left `queued` longer than MESSAGE_REQUEUE_AFTER_S.

    A message goes again to its session's node when the session is CONNECTED on a node; the
    node skips message ids it has already sent, so a republish never sends twice. A message of a
    session that is not connected stays queued (it goes out once the session runs again, on
    this node or another) until it is MESSAGE_QUEUED_MAX_AGE_S old: then it ends `failed` with
    `session_not_connected`. At most MESSAGE_REQUEUE_BATCH messages are published per run, oldest
    first. Returns how many were published.
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
            .select_related("session")
            .order_by("created_at")[: settings.MESSAGE_REQUEUE_BATCH]
        )
        for message in due:
            node_publish_on_commit(
                worker_id=message.session.worker_id,
                task="message_send",
                kwargs={
                    "messageId": message.id,
                    "sessionId": message.session_id,
                    "payload": message.payload,
                },
            )
            published += 1
        OutboundMessage.objects.filter(id__in=[m.id for m in due]).update(updated_at=now)
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


def sessions_fail_stalled() -> int:
    """Mark FAILED (`start_timeout`) the starts and moves stuck longer than SESSION_START_TIMEOUT_S.

    INITIALIZING is set by connect and left by the node's first report (QR, pairing code,
    connected, failed), so a session still in it got no report: the node never received the
    start or could not act on it. Likewise RECONNECTING with `node_moved` is set by a move
    (sessions_app/migration.py) and left by the new node's first report; a move can stall when
    the old node never runs its stop (which publishes the start) or the new node never starts.
    The node is not told to stop: if it was only slow, its next reports (later timestamps) bring
    the session back to life; otherwise the user connects again, which sends a new start.
    Returns how many sessions failed.
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


def sessions_mark_node_lost(*, worker_id: str, reason: str = "node_lost") -> int:
    """Mark DISCONNECTED (`reason`) the connected or starting sessions still on node `worker_id`.

    For a node gone OFFLINE (`node_lost`) or removed (`node_removed`), after the sessions that
    could move to another node have moved (sessions_app/migration.py). Those left have their
    login in the node's own store, or no node shares their store, or they were still linking
    (a QR belongs to its node): the user connects again, which places the session on an ONLINE
    node (a new scan is needed if its login stayed behind). Each change is in the system log.
    Returns how many sessions changed.
    """
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        sessions = Session.objects.select_for_update(of=("self",)).filter(
            worker_id=worker_id, status__in=[S.CONNECTED, *STARTING]
        )
        for session in sessions:
            session_status_set_by_backend(session, status=S.DISCONNECTED, reason=reason, now=now)
            system_log(
                event=f"session.{reason}",
                level=SystemLog.Level.WARNING,
                message=f"Session {session.name!r} lost its node {worker_id} ({reason})",
                user_id=session.owner_id,
                session_id=session.id,
                worker_id=worker_id,
            )
            changed += 1
    return changed
