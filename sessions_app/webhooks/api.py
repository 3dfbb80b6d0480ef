"""Public API for webhook endpoints and their delivery log (`/api/v1/webhooks`).

Thin: serializers validate, services act. Every read is scoped to the caller; a session-bound
API key sees and manages only endpoints bound to its session.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from gateway.api import OwnerApiView
from gateway.errors import envelope
from gateway.fields import StrictCharField
from sessions_app import selectors as session_selectors
from sessions_app.webhooks import selectors, services
from sessions_app.webhooks.models import ALL_EVENTS, EVENT_TYPES, WebhookDelivery

TAGS = ["webhooks"]
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
            "`media` ({mimetype, filename, size, mediaId, url}) never carries the file's bytes."
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
    qrString = serializers.CharField(allow_null=True, help_text="Each QR rotation is an event.")
    qrCode = serializers.CharField(allow_null=True, help_text="data:image/png;base64,…")
    qrExpiresAt = serializers.DateTimeField(allow_null=True)
    pairingCode = serializers.CharField(allow_null=True)
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


EVENT_SCHEMA = PolymorphicProxySerializer(
    component_name="WebhookEvent",
    serializers=[MessageReceivedEvent, MessageStatusEvent, SessionStatusEvent],
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
        "session.status (QR rotated)",
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


_UPDATE_FIELDS = {
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


class WebhookApiView(OwnerApiView):
    """A view about one of the caller's webhook endpoints."""

    def get_endpoint(self, webhook_id: str) -> Any:
        return selectors.endpoint_get(
            owner=self.owner, endpoint_id=webhook_id, api_key=self.api_key
        )


class WebhookListCreateApi(OwnerApiView):
    @extend_schema(tags=TAGS, responses=EndpointOutput(many=True), summary="List webhooks")
    def get(self, request: Any) -> Any:
        endpoints = selectors.endpoint_list(owner=self.owner, api_key=self.api_key)
        return envelope(EndpointOutput(endpoints, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=EndpointInput,
        responses={201: EndpointWithSecretOutput},
        examples=[
            OpenApiExample(
                "Incoming messages of one session",
                request_only=True,
                value={
                    "url": "https://example.com/hooks/whatsapp",
                    "eventTypes": ["message.received"],
                    "sessionId": "ses_abcdefgh12345678",
                },
            )
        ],
        summary="Register a webhook (the secret is shown only in this response)",
        description=(
            "Deliveries are signed per the Standard Webhooks spec (`webhook-id`, "
            "`webhook-timestamp`, `webhook-signature`). `url` must be http(s) and reach a public "
            "address (400 `unsafe_url`). The same URL registered twice gets each event once."
        ),
    )
    def post(self, request: Any) -> Any:
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        session = None
        session_id = values.get("sessionId")
        bound = getattr(self.api_key, "session_id", None)
        if bound and not session_id:
            session_id = bound
        if session_id:
            session = session_selectors.session_get(
                owner=self.owner, session_id=session_id, api_key=self.api_key
            )
        endpoint = services.endpoint_create(
            owner=self.owner,
            url=values["url"],
            event_types=values["eventTypes"],
            session=session,
            description=values["description"],
            hub_signature=values["hubSignature"],
            enabled=values["enabled"],
        )
        return envelope(EndpointWithSecretOutput(endpoint).data, status=201)


class WebhookDetailApi(WebhookApiView):
    @extend_schema(tags=TAGS, responses=EndpointOutput, summary="Get a webhook")
    def get(self, request: Any, webhook_id: str) -> Any:
        return envelope(EndpointOutput(self.get_endpoint(webhook_id)).data)

    @extend_schema(
        tags=TAGS,
        request=EndpointUpdateInput,
        responses=EndpointOutput,
        summary="Change a webhook (enabled: true re-enables one that was disabled)",
    )
    def patch(self, request: Any, webhook_id: str) -> Any:
        endpoint = self.get_endpoint(webhook_id)
        data = EndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = {_UPDATE_FIELDS[key]: value for key, value in data.validated_data.items()}
        endpoint = services.endpoint_update(owner=self.owner, endpoint=endpoint, **changes)
        return envelope(EndpointOutput(endpoint).data)

    @extend_schema(tags=TAGS, responses={200: None}, summary="Delete a webhook")
    def delete(self, request: Any, webhook_id: str) -> Any:
        services.endpoint_delete(owner=self.owner, endpoint=self.get_endpoint(webhook_id))
        return envelope({"id": webhook_id, "deleted": True})


class WebhookRotateSecretApi(WebhookApiView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses=EndpointWithSecretOutput,
        summary="Rotate the secret (the old one keeps signing for 24 h)",
    )
    def post(self, request: Any, webhook_id: str) -> Any:
        endpoint = services.endpoint_rotate_secret(
            owner=self.owner, endpoint=self.get_endpoint(webhook_id)
        )
        return envelope(EndpointWithSecretOutput(endpoint).data)


class WebhookDeliveriesApi(WebhookApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[
            OpenApiParameter("status", enum=WebhookDelivery.Status.values, required=False),
            OpenApiParameter("limit", int, required=False, description="1–200, default 50."),
        ],
        responses=DeliveryOutput(many=True),
        examples=EVENT_EXAMPLES,
        summary="Delivery log, newest first, with every attempt and the payload sent",
    )
    def get(self, request: Any, webhook_id: str) -> Any:
        endpoint = self.get_endpoint(webhook_id)
        status = request.query_params.get("status") or None
        if status and status not in WebhookDelivery.Status.values:
            raise serializers.ValidationError({"status": ["Unknown status."]})
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 200)
        except ValueError:
            raise serializers.ValidationError({"limit": ["Must be an integer."]}) from None
        deliveries = selectors.delivery_list(endpoint=endpoint, status=status, limit=limit)
        return envelope(DeliveryOutput(deliveries, many=True).data)


class WebhookDeliveryReplayApi(WebhookApiView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={202: DeliveryOutput},
        summary="Send a delivery again now (same event id, one more attempt)",
    )
    def post(self, request: Any, webhook_id: str, delivery_id: str) -> Any:
        endpoint = self.get_endpoint(webhook_id)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        delivery = services.delivery_replay(owner=self.owner, delivery=delivery)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery.id)
        return envelope(DeliveryOutput(delivery).data, status=202)
