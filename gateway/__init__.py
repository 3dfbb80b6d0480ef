"""The gateway's Django project: settings, URLs, the Celery app and shared API plumbing."""

from gateway.celery import app as celery_app

__all__ = ["celery_app"]
