"""Serializers of the public API (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gateway.fields import StrictCharField
from sessions_app.models import OutboundMessage, Session
from sessions_app.recipients import RecipientError, parse_recipient


class SessionCreateInput(serializers.Serializer):
    name = StrictCharField(max_length=100, trim_whitespace=True)
    engine = serializers.ChoiceField(
        choices=Session.Engine.choices, default=Session.Engine.WHATSAPP
    )


class SessionConnectInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=["qr", "pairing_code"], default="qr")
    phoneNumber = StrictCharField(max_length=32, required=False, allow_blank=True)

    def validate_phoneNumber(self, value: str) -> str:
        if not value:
            return ""
        try:
            return parse_recipient(value, default_region=settings.DEFAULT_PHONE_REGION).to
        except RecipientError as exc:
            raise serializers.ValidationError(str(exc), code="invalid_phone_number") from exc


class SessionOutput(serializers.ModelSerializer):
    sessionId = serializers.CharField(source="id")
    phoneNumber = serializers.CharField(source="phone_number")
    statusReason = serializers.CharField(source="status_reason")
    workerId = serializers.CharField(source="worker_id", allow_null=True)
    qrAvailable = serializers.SerializerMethodField()
    pairingCode = serializers.CharField(source="pairing_code")
    lastSeenAt = serializers.DateTimeField(source="last_seen_at")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Session
        fields = [
            "sessionId",
            "name",
            "engine",
            "status",
            "statusReason",
            "phoneNumber",
            "jid",
            "workerId",
            "qrAvailable",
            "pairingCode",
            "lastSeenAt",
            "createdAt",
        ]

    def get_qrAvailable(self, session: Session) -> bool:
        return qr_current(session)


def qr_current(session: Session) -> bool:
    """Tell whether the session holds an unexpired QR code."""
    return bool(
        session.status == Session.Status.QR_REQUIRED
        and session.qr_code
        and session.qr_expires_at
        and session.qr_expires_at > timezone.now()
    )


class SessionStatusOutput(serializers.ModelSerializer):
    sessionId = serializers.CharField(source="id")
    phoneNumber = serializers.CharField(source="phone_number")
    statusReason = serializers.CharField(source="status_reason")
    updatedAt = serializers.DateTimeField(source="status_changed_at")

    class Meta:
        model = Session
        fields = ["sessionId", "status", "statusReason", "phoneNumber", "updatedAt"]


class QrOutput(serializers.Serializer):
    sessionId = serializers.CharField()
    status = serializers.CharField()
    qrCode = serializers.CharField(allow_null=True, help_text="data:image/png;base64,…")
    qrString = serializers.CharField(allow_null=True)
    expiresAt = serializers.DateTimeField(allow_null=True)
    pairingCode = serializers.CharField(allow_null=True)

    @staticmethod
    def from_session(session: Session) -> dict[str, Any]:
        current = qr_current(session)
        return {
            "sessionId": session.id,
            "status": session.status,
            "qrCode": session.qr_code if current else None,
            "qrString": session.qr_string if current else None,
            "expiresAt": session.qr_expires_at if current else None,
            "pairingCode": session.pairing_code or None,
        }


class SandboxScanInput(serializers.Serializer):
    phoneNumber = StrictCharField(max_length=32, required=False, allow_blank=True)
    qrString = StrictCharField(max_length=1000, required=False, allow_blank=True)

    validate_phoneNumber = SessionConnectInput.validate_phoneNumber


@extend_schema_field(StrictCharField(help_text="Phone number in any common form, or a JID"))
class RecipientField(serializers.Field):
    """A recipient: a phone number in any common written form, or a JID; see recipients.py.

    Validates to a `Recipient(to, chat_jid)`. Errors carry the code `invalid_recipient` and a
    reason word (`missing_country_code`, `too_short`, `too_long`, `not_a_number`, …).
    """

    max_length = 120

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str | int) or isinstance(data, bool):
            raise serializers.ValidationError(
                "Recipient must be a string (reason: not_a_number).", code="invalid_recipient"
            )
        value = str(data)
        if len(value) > self.max_length:
            raise serializers.ValidationError(
                "Recipient is too long (reason: too_long).", code="invalid_recipient"
            )
        try:
            return parse_recipient(value, default_region=settings.DEFAULT_PHONE_REGION)
        except RecipientError as exc:
            raise serializers.ValidationError(
                f"{exc} (reason: {exc.reason})", code="invalid_recipient"
            ) from exc

    def to_representation(self, value: Any) -> Any:
        return getattr(value, "to", value)


class MessageSendInput(serializers.Serializer):
    sessionId = StrictCharField(
        max_length=32,
        required=False,
        help_text="Required unless the API key is bound to a session.",
    )
    to = RecipientField()
    type = serializers.ChoiceField(choices=["text"], default="text")
    text = StrictCharField(trim_whitespace=False, allow_blank=True)
    replyTo = StrictCharField(max_length=100, required=False)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Text is empty.", code="text_required")
        limit = settings.MESSAGE_TEXT_MAX_CHARS
        if len(value) > limit:
            raise serializers.ValidationError(
                f"Text is longer than {limit} characters.", code="text_too_long"
            )
        return value


class MessageOutput(serializers.ModelSerializer):
    messageId = serializers.CharField(source="id")
    sessionId = serializers.CharField(source="session_id")
    chatId = serializers.CharField(source="chat_jid")
    waMessageId = serializers.CharField(source="wa_message_id")
    error = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    sentAt = serializers.DateTimeField(source="sent_at")
    deliveredAt = serializers.DateTimeField(source="delivered_at")
    readAt = serializers.DateTimeField(source="read_at")
    failedAt = serializers.DateTimeField(source="failed_at")

    class Meta:
        model = OutboundMessage
        fields = [
            "messageId",
            "sessionId",
            "status",
            "to",
            "chatId",
            "type",
            "waMessageId",
            "error",
            "createdAt",
            "sentAt",
            "deliveredAt",
            "readAt",
            "failedAt",
        ]

    def get_error(self, message: OutboundMessage) -> dict[str, str] | None:
        if not message.error_code:
            return None
        return {"code": message.error_code, "message": message.error_message}
