"""Periodic node work, run by the backend worker's beat."""

from celery import shared_task


@shared_task
def check_node_health() -> list[str]:
    """Mark nodes that missed their heartbeats OFFLINE; returns their ids."""
    from workers_app.services import workers_mark_offline

    return workers_mark_offline()
