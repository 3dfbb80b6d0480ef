"""Periodic node work, run by the backend worker's beat; each task only calls a service."""

from celery import shared_task

from workers_app.fleet.health import workers_mark_offline


@shared_task
def check_node_health() -> list[str]:
    """Mark nodes that missed their heartbeats OFFLINE and move their sessions; their ids."""
    return workers_mark_offline()
