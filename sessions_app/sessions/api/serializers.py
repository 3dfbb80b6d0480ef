"""Serializers of the sessions API (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway.fields import StrictCharField
from node_agent.protocol import MEDIA_TYPES, MESSAGE_TYPES
from sessions_app.fields import PhoneNumberField
from sessions_app.messages.api.serializers import ContactInput, LocationInput, MediaInput
from sessions_app.messages.text import is_blank_text
from sessions_app.sessions.models import Session
from sessions_app.sessions.status import qr_current


class SessionCreateInput(serializers.Serializer):
    name = StrictCharField(max_length=100, trim_whitespace=True)
    engine = serializers.ChoiceField(
        choices=Session.Engine.choices, default=Session.Engine.WHATSAPP
    )

    def validate_name(self, value: str) -> str:
        if is_blank_text(value):
            raise serializers.ValidationError("The name is blank.", code="blank")
        return value


class SessionConnectInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=["qr", "pairing_code"], default="qr")
    phoneNumber = PhoneNumberField(required=False, allow_blank=True)


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
    phoneNumber = PhoneNumberField(required=False, allow_blank=True)
    qrString = StrictCharField(max_length=1000, required=False, allow_blank=True)


class SandboxIncomingInput(serializers.Serializer):
    # `from` is a Python keyword, so the field is declared by name below.
    type = serializers.ChoiceField(choices=MESSAGE_TYPES, default="text")
    text = StrictCharField(max_length=4096, required=False, trim_whitespace=False)
    media = MediaInput(required=False)
    location = LocationInput(required=False)
    contact = ContactInput(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        type_ = attrs["type"]
        if type_ == "text" and not attrs.get("text"):
            raise serializers.ValidationError({"text": ["Required for type text."]})
        if type_ in MEDIA_TYPES and "media" not in attrs:
            raise serializers.ValidationError({"media": [f"Required for type {type_}."]})
        if type_ in ("location", "contact") and type_ not in attrs:
            raise serializers.ValidationError({type_: [f"Required for type {type_}."]})
        return attrs

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = PhoneNumberField()
        return fields
