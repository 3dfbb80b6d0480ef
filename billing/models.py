"""Usage records: messages counted per user, session, API key and day."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UsageRecord(models.Model):
    """How many messages a key sent through a session on one (UTC) day. One row per key and day."""

    class Kind(models.TextChoices):
        MESSAGE_OUT = "message_out"
        MESSAGE_IN = "message_in"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records"
    )
    # Usage outlives what it was counted for: a deleted session or key keeps its id here (no
    # database constraint, nothing cascades), so the history stays per session and per key and
    # two deleted sessions' rows of one day never collapse into one row and collide.
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MESSAGE_OUT)
    billing_date = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-billing_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "session", "api_key", "kind", "billing_date"],
                name="usage_one_row_per_key_and_day",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.billing_date} {self.kind}={self.count}"
