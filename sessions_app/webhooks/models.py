"""Webhook endpoints, the events fanned out to them, deliveries and every attempt made.

An event is stored once per owner (its id is the `webhook-id` header and never changes across
retries or replays); a delivery is one event on its way to one endpoint; an attempt is one HTTP
request of a delivery.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from sessions_app.ids import new_delivery_id, new_endpoint_id, new_event_id

EVENT_TYPES = (
    "message.received",
    "message.status",
    "session.status",
    "session.qr",
    "usage.threshold",
    "group.joined",
    "group.left",
    "group.participants",
    "group.updated",
    "contact.updated",
    "presence.update",
    "message.reaction",
    "message.edited",
    "message.revoked",
    "message.read",
    "poll.vote",
    "call.received",
    "call.rejected",
    "chat.updated",
)
ALL_EVENTS = "*"
# Event types `*` leaves out: an endpoint gets them only when it names them. A QR rotation every
# 20 s while a phone links is noise to most receivers; one that shows the QR itself asks for it.
OPT_IN_EVENTS = frozenset({"session.qr"})


def types_want(event_types: list[str], event_type: str) -> bool:
    """Tell whether a subscription to `event_types` (names, or `*`: all but OPT_IN_EVENTS, which
    are named) wants an event of `event_type` (an endpoint's, a stream's)."""
    if event_type in event_types:
        return True
    return ALL_EVENTS in event_types and event_type not in OPT_IN_EVENTS


class WebhookEndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def for_owner(self, owner: object) -> WebhookEndpointQuerySet:
        return self.filter(owner=owner)


class WebhookEndpoint(models.Model):
    """A URL of the owner's that receives the chosen event types of all or one of their sessions.

    `secret` is a signing key (`whsec_<base64>`), not a password: it is kept so deliveries can be
    signed and shown only when created or rotated. After a rotation `previous_secret` still signs
    until `previous_secret_expires_at`.
    """

    id = models.CharField(primary_key=True, max_length=32, default=new_endpoint_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="Empty: every session of the owner.",
    )
    url = models.URLField(max_length=2000)
    url_normalized = models.CharField(max_length=2000, editable=False)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(
        default=list, help_text='Event type names, or ["*"] (all but session.qr, which is named).'
    )
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    hub_signature = models.BooleanField(
        default=False, help_text="Also send X-Hub-Signature-256 (Meta Cloud API style)."
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["owner", "enabled"])]

    def __str__(self) -> str:
        return f"{self.id} → {self.url}"

    def wants(self, event_type: str) -> bool:
        """Tell whether this endpoint subscribed to `event_type` (`types_want`)."""
        return types_want(self.event_types, event_type)


class WebhookEvent(models.Model):
    """One thing that happened, with the exact JSON body every delivery of it sends."""

    id = models.CharField(primary_key=True, max_length=32, default=new_event_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_events"
    )
    # "" for an event of the whole account (usage.threshold), which every endpoint may get.
    session_id = models.CharField(max_length=32, db_index=True)
    type = models.CharField(max_length=32)
    # What makes a node's repeated report the same event (e.g. `<messageId>:<status>`).
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "type", "dedupe_key"], name="webhook_event_dedupe"
            )
        ]
        # The event stream reads new events by time, and one owner's after a resume point.
        indexes = [
            models.Index(fields=["created_at", "id"], name="webhook_event_time"),
            models.Index(fields=["owner", "created_at", "id"], name="webhook_event_owner_time"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint; retried on the schedule until it succeeds or fails."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for `next_attempt_at`
        SENDING = "sending"  # claimed by a worker
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # schedule exhausted, 410, or the endpoint was disabled

    id = models.CharField(primary_key=True, max_length=32, default=new_delivery_id, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Automatic attempts made so far: the position in the retry schedule.
    schedule_step = models.PositiveIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    replay_requested = models.BooleanField(default=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.id


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back and how long it took."""

    class Trigger(models.TextChoices):
        AUTO = "auto"
        REPLAY = "replay"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.AUTO)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    success = models.BooleanField(default=False)
    response_snippet = models.CharField(max_length=1000, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number")
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number}"
