"""Human-like pacing of a session (README "Human-like pacing"): the settings its user gives it,
what goes to its node with each send, and the daily cap of a newly linked number.

The delay before each send and "typing…" before a text are the node's to apply, in the
session's send lane (node_agent/pacing.py): only there is the time between two sends known. The
new-number cap is the backend's, at accept time: only there can a send be refused before
anything is written, and the backend sees every send of a session, whichever node runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from gateway.models import system_log
from sessions_app.errors import NewNumberDailyCap, SessionNotFound
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session

PACING_FIELDS = (
    "pacing_min_delay_ms",
    "pacing_max_delay_ms",
    "pacing_typing",
    "new_number_days",
    "new_number_daily_cap",
)


@transaction.atomic
def session_pacing_set(
    *,
    owner: User,
    session: Session,
    min_delay_ms: int = 0,
    max_delay_ms: int = 0,
    typing: bool = False,
    new_number_days: int = 0,
    new_number_daily_cap: int = 0,
) -> Session:
    """Replace the session's pacing: a delay of `min_delay_ms`..`max_delay_ms` (ms, uniform,
    at most PACING_DELAY_MAX_MS) before each send, `typing` shown before each text, and while
    the number was linked less than `new_number_days` days ago at most `new_number_daily_cap`
    messages a UTC day (`new_number_days` 0: no cap).

    The API's serializer checks the bounds (the table's constraints hold them too). It applies
    from the session's next send on, also to its messages still waiting on its node (each send
    carries the session's pacing, and the latest one applies to the lane). Only these columns
    are written, so a status a node reports meanwhile is kept. Safe to repeat. Raises
    SessionNotFound for another owner's session.
    """
    if session.owner_id != owner.pk:
        raise SessionNotFound()
    session.pacing_min_delay_ms = min_delay_ms
    session.pacing_max_delay_ms = max_delay_ms
    session.pacing_typing = typing
    session.new_number_days = new_number_days
    session.new_number_daily_cap = new_number_daily_cap
    session.save(update_fields=[*PACING_FIELDS, "updated_at"])
    cap = f"{new_number_daily_cap} a day for {new_number_days} days" if new_number_days else "off"
    system_log(
        event="session.pacing_set",
        message=f"Session {session.name!r} pacing: delay {min_delay_ms}-{max_delay_ms} ms, "
        f"typing {'on' if typing else 'off'}, new-number cap {cap}",
        user=owner,
        session_id=session.id,
    )
    return session


def send_pacing(session: Session) -> dict[str, Any] | None:
    """Return the `pacing` of the session's `message_send` tasks (protocol.MessageSend):
    {minDelayMs, maxDelayMs, typing}, or None when neither a delay nor typing is on."""
    if not session.pacing_max_delay_ms and not session.pacing_typing:
        return None
    return {
        "minDelayMs": session.pacing_min_delay_ms,
        "maxDelayMs": session.pacing_max_delay_ms,
        "typing": session.pacing_typing,
    }


def new_number_until(session: Session) -> datetime | None:
    """Return when the session's number stops being new (the cap ends), or None when no cap
    applies to it: the cap is off, or the session has never connected."""
    if not session.new_number_days or session.linked_at is None:
        return None
    return session.linked_at + timedelta(days=session.new_number_days)


def new_number_cap_check(*, session: Session, lock: bool = True) -> None:
    """Raise NewNumberDailyCap if the session's number is new and it has accepted its
    `new_number_daily_cap` messages this UTC day (its OutboundMessage rows since midnight).

    With `lock`, call it in the send's transaction, before the message is written: it locks the
    session's row (FOR NO KEY UPDATE, which the message's own insert does not wait for), so
    concurrent sends of the session are counted one after another and exactly the cap pass.
    Without, it is an early look (before a send's media are read and kept) that a race may pass.
    When no cap applies (the setting is off, or the number is past its new days) it runs no
    query at all. The error's `resetsAt` is the next UTC midnight, or the end of the new days if
    sooner.
    """
    now = timezone.now()
    until = new_number_until(session)
    if until is None or now >= until:
        return
    fresh = session
    if lock:
        # Read the settings again under the lock: the user may have changed them since the
        # request loaded the session.
        row = (
            Session.objects.select_for_update(no_key=True)
            .filter(id=session.id)
            .values("new_number_days", "new_number_daily_cap", "linked_at")
            .first()
        )
        if row is None:
            return  # deleted meanwhile: the insert that follows fails on its foreign key
        fresh = Session(**row)
        until = new_number_until(fresh)
        if until is None or now >= until:
            return
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    accepted = OutboundMessage.objects.filter(session_id=session.id, created_at__gte=midnight)
    if accepted.count() >= fresh.new_number_daily_cap:
        raise NewNumberDailyCap(
            limit=fresh.new_number_daily_cap,
            resets_at=min(midnight + timedelta(days=1), until),
            linked_at=fresh.linked_at,
        )
