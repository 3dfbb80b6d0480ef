"""Periodic session work, run by the backend worker's beat; the task only calls a service."""

from __future__ import annotations

from celery import shared_task

from sessions_app.sessions.services import sessions_fail_stalled


@shared_task(ignore_result=True)
def fail_stalled_sessions() -> int:
    """Mark FAILED (`start_timeout`) sessions that got no node report after connect or a move."""
    return sessions_fail_stalled()
