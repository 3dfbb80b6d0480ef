"""Serializers of the webhooks API and the event payloads a receiver gets (for the schema)."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema_field,
)
from rest_framework import serializers

from gateway.fields import StrictCharField
from sessions_app.webhooks.models import ALL_EVENTS, EVENT_TYPES, WebhookDelivery

EVENT_CHOICES = [ALL_EVENTS, *EVENT_TYPES]


# --- Event payloads (what a receiver gets; documented in the schema) ---------------------------


class _EventBase(serializers.Serializer):
    id = serializers.CharField(help_text="Event id `evt_…`; also the `webhook-id` header.")
    timestamp = serializers.DateTimeField(help_text="When the event was created (UTC).")
    sessionId = serializers.CharField()


class MessageReceivedData(serializers.Serializer):
    sessionId = serializers.CharField()
    message = serializers.DictField(
        help_text=(
            "The node's message: `id`, `from`, `chatId`, `type`, `timestamp`, `fromMe`, `text`; "
            "`media` {id, mimetype, filename, size (bytes), sha256, caption?, url, urlExpiresAt} "
            "never carries the file's bytes: `url` opens the file without an API key until "
            "`urlExpiresAt` (MEDIA_URL_TTL_S, 15 days by default)."
        )
    )


class MessageStatusError(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class MessageStatusData(serializers.Serializer):
    sessionId = serializers.CharField()
    messageId = serializers.CharField()
    waMessageId = serializers.CharField(allow_null=True)
    to = serializers.CharField()
    chatId = serializers.CharField()
    status = serializers.ChoiceField(choices=["sent", "delivered", "read", "failed"])
    error = MessageStatusError(allow_null=True, help_text="Only for `failed`.")
    timestamp = serializers.DateTimeField()


class SessionStatusData(serializers.Serializer):
    sessionId = serializers.CharField()
    status = serializers.CharField(help_text="A session status (upper case).")
    reason = serializers.CharField(allow_null=True)
    phoneNumber = serializers.CharField(allow_null=True)
    qrString = serializers.CharField(
        allow_null=True, help_text="The first QR; its rotations are `session.qr` events."
    )
    qrCode = serializers.CharField(allow_null=True, help_text="data:image/png;base64,…")
    qrExpiresAt = serializers.DateTimeField(allow_null=True)
    pairingCode = serializers.CharField(allow_null=True)
    timestamp = serializers.DateTimeField()


class SessionQrData(serializers.Serializer):
    sessionId = serializers.CharField()
    qrString = serializers.CharField(help_text="What the phone scans (`2@…`).")
    qrCode = serializers.CharField(help_text="data:image/png;base64,…")
    qrExpiresAt = serializers.DateTimeField()
    timestamp = serializers.DateTimeField()


class MessageReceivedEvent(_EventBase):
    type = serializers.ChoiceField(choices=["message.received"])
    data = MessageReceivedData()


class MessageStatusEvent(_EventBase):
    type = serializers.ChoiceField(choices=["message.status"])
    data = MessageStatusData()


class SessionStatusEvent(_EventBase):
    type = serializers.ChoiceField(choices=["session.status"])
    data = SessionStatusData()


class SessionQrEvent(_EventBase):
    type = serializers.ChoiceField(
        choices=["session.qr"], help_text="Only for endpoints that name it: `*` leaves it out."
    )
    data = SessionQrData()


EVENT_SCHEMA = PolymorphicProxySerializer(
    component_name="WebhookEvent",
    serializers=[MessageReceivedEvent, MessageStatusEvent, SessionStatusEvent, SessionQrEvent],
    resource_type_field_name="type",
)

EVENT_EXAMPLES = [
    OpenApiExample(
        "message.received",
        response_only=True,
        value={
            "id": "evt_3k2j5h6g7f8d9s0a1q2w3e4r",
            "type": "message.received",
            "timestamp": "2025-01-01T10:00:00.123456Z",
            "sessionId": "ses_abcdefgh12345678",
            "data": {
                "sessionId": "ses_abcdefgh12345678",
                "message": {
                    "id": "3EB0C767D26A1B2C",
                    "from": "6281200000001",
                    "chatId": "6281200000001@s.whatsapp.net",
                    "type": "text",
                    "timestamp": "2025-01-01T10:00:00Z",
                    "fromMe": False,
                    "text": "Halo",
                },
            },
        },
    ),
    OpenApiExample(
        "message.status (failed)",
        response_only=True,
        value={
            "id": "evt_0a9s8d7f6g5h4j3k2l1q2w3e",
            "type": "message.status",
            "timestamp": "2025-01-01T10:00:02Z",
            "sessionId": "ses_abcdefgh12345678",
            "data": {
                "sessionId": "ses_abcdefgh12345678",
                "messageId": "msg_abcdefghij0123456789",
                "waMessageId": None,
                "to": "15550000199",
                "chatId": "15550000199@s.whatsapp.net",
                "status": "failed",
                "error": {"code": "recipient_not_on_whatsapp", "message": "Not on WhatsApp."},
                "timestamp": "2025-01-01T10:00:02Z",
            },
        },
    ),
    OpenApiExample(
        "session.status (the first QR)",
        response_only=True,
        value={
            "id": "evt_q1w2e3r4t5y6u7i8o9p0a1s2",
            "type": "session.status",
            "timestamp": "2025-01-01T09:59:00Z",
            "sessionId": "ses_abcdefgh12345678",
            "data": {
                "sessionId": "ses_abcdefgh12345678",
                "status": "QR_REQUIRED",
                "reason": None,
                "phoneNumber": None,
                "qrString": "2@…",
                "qrCode": "data:image/png;base64,…",
                "qrExpiresAt": "2025-01-01T09:59:20Z",
                "pairingCode": None,
                "timestamp": "2025-01-01T09:59:00Z",
            },
        },
    ),
    OpenApiExample(
        "session.qr (the QR rotated)",
        response_only=True,
        value={
            "id": "evt_z1x2c3v4b5n6m7a8s9d0f1g2",
            "type": "session.qr",
            "timestamp": "2025-01-01T09:59:20Z",
            "sessionId": "ses_abcdefgh12345678",
            "data": {
                "sessionId": "ses_abcdefgh12345678",
                "qrString": "2@…",
                "qrCode": "data:image/png;base64,…",
                "qrExpiresAt": "2025-01-01T09:59:40Z",
                "timestamp": "2025-01-01T09:59:20Z",
            },
        },
    ),
]


# --- Endpoints ---------------------------------------------------------------------------------


class EndpointInput(serializers.Serializer):
    url = StrictCharField(max_length=2000)
    eventTypes = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, default=[ALL_EVENTS]
    )
    sessionId = StrictCharField(
        max_length=32, required=False, allow_null=True, help_text="Omit for every session."
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    hubSignature = serializers.BooleanField(
        required=False, default=False, help_text="Also send X-Hub-Signature-256 (Meta style)."
    )
    enabled = serializers.BooleanField(required=False, default=True)


class EndpointUpdateInput(serializers.Serializer):
    url = StrictCharField(max_length=2000, required=False)
    eventTypes = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, required=False
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    hubSignature = serializers.BooleanField(required=False)
    enabled = serializers.BooleanField(required=False)


UPDATE_FIELDS = {
    "url": "url",
    "eventTypes": "event_types",
    "description": "description",
    "hubSignature": "hub_signature",
    "enabled": "enabled",
}


class EndpointOutput(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    sessionId = serializers.CharField(source="session_id", allow_null=True)
    eventTypes = serializers.ListField(source="event_types", child=serializers.CharField())
    description = serializers.CharField()
    hubSignature = serializers.BooleanField(source="hub_signature")
    enabled = serializers.BooleanField()
    disabledReason = serializers.CharField(source="disabled_reason")
    disabledAt = serializers.DateTimeField(source="disabled_at", allow_null=True)
    previousSecretExpiresAt = serializers.DateTimeField(
        source="previous_secret_expires_at", allow_null=True
    )
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class EndpointWithSecretOutput(EndpointOutput):
    secret = serializers.CharField(help_text="`whsec_…`: shown only on create and rotate.")


class AttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    trigger = serializers.CharField()
    startedAt = serializers.DateTimeField(source="started_at")
    durationMs = serializers.IntegerField(source="duration_ms")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    success = serializers.BooleanField()
    responseSnippet = serializers.CharField(source="response_snippet")
    error = serializers.CharField()


@extend_schema_field(EVENT_SCHEMA)
class EventPayloadField(serializers.JSONField):
    """The event's JSON body exactly as delivered."""


class DeliveryOutput(serializers.Serializer):
    id = serializers.CharField()
    eventId = serializers.CharField(source="event_id")
    eventType = serializers.CharField(source="event.type")
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attemptCount = serializers.IntegerField(source="attempt_count")
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)
    payload = EventPayloadField(source="event.payload")
    attempts = AttemptOutput(many=True, source="attempts.all")
