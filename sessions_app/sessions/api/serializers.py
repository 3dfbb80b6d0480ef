"""Serializers of the sessions API (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gateway.fields import StrictBooleanField, StrictCharField, StrictIntegerField, StrictRegexField
from node_agent.chats import CONTACT_PRESENCE_STATES
from node_agent.contacts import PUSH_NAME_MAX
from node_agent.protocol import MEDIA_TYPES, MESSAGE_TYPES
from sessions_app.fields import PhoneNumberField, one_line_name
from sessions_app.messages.api.serializers import ContactInput, LocationInput, MediaInput
from sessions_app.messages.text import is_blank_text
from sessions_app.sessions.models import (
    NEW_NUMBER_DAILY_CAP_MAX,
    NEW_NUMBER_DAYS_MAX,
    PACING_DELAY_MAX_MS,
    Session,
)
from sessions_app.sessions.pacing import new_number_until
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


class SessionPacingInput(serializers.Serializer):
    """A session's whole pacing (PUT): a field left out is off (0, false); unknown ones are
    refused, so a misspelt name does not quietly switch a setting off."""

    minDelayMs = StrictIntegerField(min_value=0, max_value=PACING_DELAY_MAX_MS, default=0)
    maxDelayMs = StrictIntegerField(min_value=0, max_value=PACING_DELAY_MAX_MS, default=0)
    typing = StrictBooleanField(default=False)
    newNumberDays = StrictIntegerField(min_value=0, max_value=NEW_NUMBER_DAYS_MAX, default=0)
    newNumberDailyCap = StrictIntegerField(
        min_value=0, max_value=NEW_NUMBER_DAILY_CAP_MAX, default=0
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        unknown = set(self.initial_data) - set(self.fields)
        for name in sorted(unknown):
            errors[name] = ["Unknown field."]
        if attrs["minDelayMs"] > attrs["maxDelayMs"]:
            errors["minDelayMs"] = ["Must not be more than maxDelayMs."]
        if attrs["newNumberDays"] and not attrs["newNumberDailyCap"]:
            errors["newNumberDailyCap"] = ["Give 1 or more when newNumberDays is set."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def service_kwargs(self) -> dict[str, Any]:
        """The validated body as `session_pacing_set`'s keyword arguments."""
        data = self.validated_data
        return {
            "min_delay_ms": data["minDelayMs"],
            "max_delay_ms": data["maxDelayMs"],
            "typing": data["typing"],
            "new_number_days": data["newNumberDays"],
            "new_number_daily_cap": data["newNumberDailyCap"],
        }


class SessionPacingOutput(serializers.Serializer):
    minDelayMs = serializers.IntegerField(source="pacing_min_delay_ms")
    maxDelayMs = serializers.IntegerField(source="pacing_max_delay_ms")
    typing = serializers.BooleanField(source="pacing_typing")
    newNumberDays = serializers.IntegerField(source="new_number_days")
    newNumberDailyCap = serializers.IntegerField(source="new_number_daily_cap")
    newNumberUntil = serializers.SerializerMethodField(
        help_text="When the number stops being new and the cap ends (UTC); null when no cap "
        "applies (off, or never connected)."
    )

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_newNumberUntil(self, session: Session) -> str | None:
        until = new_number_until(session)
        return serializers.DateTimeField().to_representation(until) if until else None


class SessionPacingAnswer(SessionPacingOutput):
    sessionId = serializers.CharField(source="id")


class SessionOutput(serializers.ModelSerializer):
    sessionId = serializers.CharField(source="id")
    phoneNumber = serializers.CharField(source="phone_number")
    statusReason = serializers.CharField(source="status_reason")
    workerId = serializers.CharField(source="worker_id", allow_null=True)
    qrAvailable = serializers.SerializerMethodField()
    pairingCode = serializers.CharField(source="pairing_code")
    lastSeenAt = serializers.DateTimeField(source="last_seen_at", allow_null=True)
    linkedAt = serializers.DateTimeField(
        source="linked_at",
        allow_null=True,
        help_text="When the session first connected with its current phone number.",
    )
    pacing = SessionPacingOutput(source="*", help_text="Human-like pacing (PUT …/pacing).")
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
            "linkedAt",
            "pacing",
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


class SandboxPresenceInput(serializers.Serializer):
    # `from` is a Python keyword, so the field is declared by name below.
    state = serializers.ChoiceField(choices=CONTACT_PRESENCE_STATES)
    chat = StrictRegexField(
        r"^[0-9]{5,30}(-[0-9]{5,20})?@g\.us$",
        max_length=100,
        required=False,
        help_text="A group's JID, where the contact types",
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = PhoneNumberField()
        return fields


class SandboxMessageActionInput(serializers.Serializer):
    # `from` is a Python keyword, so the field is declared by name below.
    action = serializers.ChoiceField(choices=["react", "edit", "revoke", "vote"])
    messageId = StrictCharField(max_length=100, help_text="WhatsApp's id of the message")
    emoji = StrictCharField(
        max_length=32, required=False, allow_blank=True, help_text='react: "" takes it back'
    )
    text = StrictCharField(max_length=4096, required=False, trim_whitespace=False)
    options = serializers.ListField(
        child=StrictCharField(max_length=100),
        max_length=12,
        required=False,
        help_text="vote: the poll's options chosen ([] takes the vote back)",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == "vote" and "options" not in attrs:
            raise serializers.ValidationError({"options": ["Required for a vote."]})
        if attrs["action"] == "edit" and not (attrs.get("text") or "").strip():
            raise serializers.ValidationError({"text": ["Required for an edit."]})
        if attrs["action"] == "react" and "emoji" not in attrs:
            raise serializers.ValidationError({"emoji": ['Required for a reaction ("" removes).']})
        return attrs

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = PhoneNumberField()
        return fields


class SandboxCallInput(serializers.Serializer):
    # `from` is a Python keyword, so the field is declared by name below.
    video = StrictBooleanField(required=False, default=False)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = PhoneNumberField()
        return fields


class SandboxIncomingInput(serializers.Serializer):
    # `from` is a Python keyword, so the field is declared by name below.
    type = serializers.ChoiceField(choices=MESSAGE_TYPES, default="text")
    text = StrictCharField(max_length=4096, required=False, trim_whitespace=False)
    media = MediaInput(required=False)
    location = LocationInput(required=False)
    contact = ContactInput(required=False)
    viewOnce = StrictBooleanField(required=False, help_text="A view-once photo or video")
    pushName = StrictCharField(
        max_length=PUSH_NAME_MAX,
        required=False,
        validators=[one_line_name],
        help_text="The name the contact gives themselves (a new one is a contact.updated).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        type_ = attrs["type"]
        if type_ in ("edit", "revoke"):
            raise serializers.ValidationError(
                {"type": [f"A contact's {type_} is a message action (…/sandbox/message-action)."]}
            )
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
