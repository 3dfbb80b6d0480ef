"""The delivery ledger of outbound messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sessions_app.ids import new_message_id


class MessageQuerySet(models.QuerySet["OutboundMessage"]):
    def for_owner(self, owner: object) -> MessageQuerySet:
        return self.filter(owner=owner)


class OutboundMessage(models.Model):
    """The delivery ledger of one outbound message.

    The node keeps the full history; the backend keeps what it needs to answer for delivery and
    to publish the send again: recipient, status, error and the payload handed to the node.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=32, default=new_message_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outbound_messages"
    )
    session = models.ForeignKey(
        "sessions_app.Session", on_delete=models.CASCADE, related_name="messages"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to = models.CharField(max_length=64, help_text="E.164 digits, or the JID's user part.")
    chat_jid = models.CharField(max_length=100)
    type = models.CharField(max_length=16, default="text")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    node_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The node it was last published to: that node may report its statuses even "
        "after the session moved on (empty: accepted before nodes had credentials of their own).",
    )
    wa_message_id = models.CharField(max_length=64, blank=True, db_index=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True, default="")
    request_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of what the send asked for (payloads.request_fingerprint): a repeat "
        "with the same Idempotency-Key is recognised by it before any media is fetched.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="message_idempotency_key_per_owner",
            )
        ]
        indexes = [
            models.Index(fields=["session", "-created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.id
