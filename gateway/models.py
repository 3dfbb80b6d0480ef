"""The operator-visible system log (audit trail)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class SystemLog(models.Model):
    """One operator-visible event: a node went offline, a session connected, a key was created."""

    class Level(models.TextChoices):
        INFO = "INFO"
        WARNING = "WARNING"
        ERROR = "ERROR"

    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    event = models.CharField(max_length=64, db_index=True)
    message = models.CharField(max_length=500)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    session_id = models.CharField(max_length=32, blank=True, db_index=True)
    worker_id = models.CharField(max_length=64, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "system log entry"
        verbose_name_plural = "system log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.event}"


def system_log(
    *,
    event: str,
    message: str,
    level: str = SystemLog.Level.INFO,
    user: Any = None,
    user_id: int | None = None,
    session_id: str = "",
    worker_id: str = "",
    **data: Any,
) -> SystemLog:
    """Record an operator-visible event. Never pass secrets in `data`."""
    return SystemLog.objects.create(
        level=level,
        event=event,
        message=message[:500],
        user_id=user_id if user is None else user.pk,
        session_id=session_id,
        worker_id=worker_id,
        data=data,
    )
