"""A media file kept in the media storage."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sessions_app.ids import new_media_id


class MediaFile(models.Model):
    """A file sent or received by a session, kept in the media storage (django-storages).

    The same owner sending the same bytes with the same name and type reuses one row, so a
    repeated request (an idempotent retry) produces the same payload.
    """

    class Direction(models.TextChoices):
        OUT = "out"
        IN = "in"

    id = models.CharField(primary_key=True, max_length=32, default=new_media_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_files"
    )
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="media_files",
    )
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUT)
    mimetype = models.CharField(max_length=100)
    filename = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "sha256"])]

    def __str__(self) -> str:
        return self.id
