"""Periodic session and message work, run by the backend worker's beat; each calls a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def republish_messages() -> int:
    """Publish again messages left `queued` too long; fail ones whose session stays down."""
    from sessions_app.recovery import messages_republish

    return messages_republish()


@shared_task(ignore_result=True)
def fail_stalled_sessions() -> int:
    """Mark FAILED (`start_timeout`) sessions that got no node report after connect."""
    from sessions_app.recovery import sessions_fail_stalled

    return sessions_fail_stalled()
