"""Periodic message work, run by the backend worker's beat; the task only calls a service."""

from __future__ import annotations

from celery import shared_task

from sessions_app.messages.services import messages_republish


@shared_task(ignore_result=True)
def republish_messages() -> int:
    """Publish again messages left `queued` too long; fail ones whose session stays down."""
    return messages_republish()
