"""WhatsApp sessions (linked accounts) and the ledger of outbound messages."""

from __future__ import annotations

import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_session_id() -> str:
    """Return a URL-safe session id: `ses_` + 16 lowercase letters and digits (82 bits)."""
    return "ses_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_message_id() -> str:
    """Return a URL-safe message id: `msg_` + 20 lowercase letters and digits (103 bits)."""
    return "msg_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


class SessionQuerySet(models.QuerySet["Session"]):
    def for_owner(self, owner: object) -> SessionQuerySet:
        return self.filter(owner=owner)


class Session(models.Model):
    """One linked WhatsApp account. Statuses are upper case as in the seed."""

    class Status(models.TextChoices):
        DISCONNECTED = "DISCONNECTED"
        INITIALIZING = "INITIALIZING"
        QR_REQUIRED = "QR_REQUIRED"
        PAIRING = "PAIRING"
        CONNECTED = "CONNECTED"
        RECONNECTING = "RECONNECTING"
        LOGGED_OUT = "LOGGED_OUT"
        FAILED = "FAILED"

    class Engine(models.TextChoices):
        WHATSAPP = "whatsapp", "WhatsApp"
        SANDBOX = "sandbox", "Sandbox"

    id = models.CharField(primary_key=True, max_length=32, default=new_session_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wa_sessions"
    )
    worker = models.ForeignKey(
        "workers_app.Worker",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
    )
    name = models.CharField(max_length=100)
    engine = models.CharField(max_length=10, choices=Engine.choices, default=Engine.WHATSAPP)
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164 digits.")
    jid = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.DISCONNECTED)
    status_reason = models.CharField(max_length=64, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    connect_method = models.CharField(max_length=14, blank=True)
    qr_code = models.TextField(blank=True, help_text="data:image/png;base64,…")
    qr_string = models.TextField(blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    pairing_code = models.CharField(max_length=16, blank=True)
    credential_store = models.CharField(
        max_length=64,
        blank=True,
        help_text="The shared credential store holding the session's login (its node's "
        "session_store when it last connected); empty = a node's own store, or logged out.",
    )
    moved_from = models.CharField(
        max_length=64,
        blank=True,
        help_text="The node a move (status RECONNECTING, node_moved) hands the session over from; "
        "if that node dies before it hands over, the target starts the session by itself.",
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


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
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to = models.CharField(max_length=64, help_text="E.164 digits, or the JID's user part.")
    chat_jid = models.CharField(max_length=100)
    type = models.CharField(max_length=16, default="text")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    wa_message_id = models.CharField(max_length=64, blank=True, db_index=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True, default="")
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


def new_media_id() -> str:
    """Return a URL-safe media id: `med_` + 20 lowercase letters and digits (103 bits)."""
    return "med_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


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
        Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="media_files"
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


from sessions_app.webhooks.models import *  # noqa: E402, F403  (Django loads models from here)
