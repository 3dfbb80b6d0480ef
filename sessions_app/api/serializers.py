"""Serializers of the public API (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gateway.fields import StrictCharField, StrictFloatField
from node_agent.protocol import MESSAGE_TYPES
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


# Types whose `text` is a caption. Caption limit: Meta, WhatsApp Cloud API reference,
# "Messages" — media object `caption`, at most 1024 characters.
CAPTION_TYPES = ("image", "video", "document")
CAPTION_MAX_CHARS = 1024
MENTIONS_MAX = 256


class MediaInput(serializers.Serializer):
    url = StrictCharField(max_length=2048, required=False, help_text="http(s) URL to fetch")
    base64 = StrictCharField(
        required=False, trim_whitespace=False, help_text="Base64, optionally data:<mime>;base64,"
    )
    mimetype = StrictCharField(max_length=100, required=False)
    filename = StrictCharField(max_length=255, required=False, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("url" in attrs) == ("base64" in attrs):
            raise serializers.ValidationError("Give exactly one of url or base64.")
        return attrs


class LocationInput(serializers.Serializer):
    latitude = StrictFloatField(min_value=-90, max_value=90)
    longitude = StrictFloatField(min_value=-180, max_value=180)
    name = StrictCharField(max_length=256, required=False, allow_blank=True)
    address = StrictCharField(max_length=512, required=False, allow_blank=True)


class ContactInput(serializers.Serializer):
    name = StrictCharField(max_length=256)
    phone = StrictCharField(max_length=32, required=False, help_text="Any common written form")
    vcard = StrictCharField(max_length=10000, required=False, trim_whitespace=False)

    def validate_phone(self, value: str) -> str:
        try:
            return parse_recipient(value, default_region=settings.DEFAULT_PHONE_REGION).to
        except RecipientError as exc:
            raise serializers.ValidationError(
                f"{exc} (reason: {exc.reason})", code="invalid_phone_number"
            ) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("phone") and not attrs.get("vcard"):
            raise serializers.ValidationError("Give phone or vcard.")
        if attrs.get("vcard") and not attrs["vcard"].lstrip().upper().startswith("BEGIN:VCARD"):
            raise serializers.ValidationError({"vcard": ["Must start with BEGIN:VCARD."]})
        return attrs


class ReactionInput(serializers.Serializer):
    messageId = StrictCharField(max_length=100, help_text="WhatsApp id of the message reacted to")
    emoji = StrictCharField(
        max_length=16, allow_blank=True, trim_whitespace=False, help_text="Empty removes it"
    )


def vcard_of(name: str, phone: str) -> str:
    """Return a vCard 3.0 for one name and E.164 digits (`waid` lets WhatsApp link the chat)."""
    # vCard 3.0 text-value escaping (RFC 2426, formal grammar): backslash, semicolon, comma
    # and line breaks, so a name can never start a property or a card of its own.
    escaped = (
        name.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )
    return f"BEGIN:VCARD\nVERSION:3.0\nFN:{escaped}\nTEL;type=CELL;waid={phone}:+{phone}\nEND:VCARD"


class MessageSendInput(serializers.Serializer):
    """The send body; each type has its own required fields (see `validate`).

    - text: `text`
    - image, video, document: `media` (or a multipart `file`), `text` optional as the caption;
      a document's file name comes from `media.filename`, the upload or the URL
    - audio, voice (OGG/Opus, sent as a voice note), sticker (WebP): `media` or `file`
    - location: `location{latitude, longitude, name?, address?}`
    - contact: `contact{name, phone | vcard}`
    - reaction: `reaction{messageId, emoji}` (empty emoji removes the reaction)
    - any type: `replyTo` (WhatsApp id of the quoted message), `mentions` (phone numbers)
    """

    sessionId = StrictCharField(
        max_length=32,
        required=False,
        help_text="Required unless the API key is bound to a session.",
    )
    to = RecipientField()
    type = serializers.ChoiceField(choices=MESSAGE_TYPES, default="text")
    text = StrictCharField(
        trim_whitespace=False, allow_blank=True, required=False, help_text="Text, or caption"
    )
    media = MediaInput(required=False)
    location = LocationInput(required=False)
    contact = ContactInput(required=False)
    reaction = ReactionInput(required=False)
    replyTo = StrictCharField(max_length=100, required=False)
    mentions = serializers.ListField(
        child=RecipientField(), required=False, max_length=MENTIONS_MAX
    )

    def __init__(self, *args: Any, upload: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload = upload

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # Name a missing text together with the other field errors (validate() won't run).
            if (
                isinstance(exc.detail, dict)
                and isinstance(data, dict)
                and data.get("type", "text") == "text"
                and "text" not in data
            ):
                exc.detail["text"] = [
                    serializers.ErrorDetail("This field is required.", "required")
                ]
            raise

    def validate_text(self, value: str) -> str:
        limit = settings.MESSAGE_TEXT_MAX_CHARS
        if len(value) > limit:
            raise serializers.ValidationError(
                f"Text is longer than {limit} characters.", code="text_too_long"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        type_ = attrs.get("type", "text")
        required = {
            "text": "text",
            "location": "location",
            "contact": "contact",
            "reaction": "reaction",
        }
        errors: dict[str, list[Any]] = {}
        if type_ == "text":
            if not attrs.get("text", "").strip():
                raise serializers.ValidationError(
                    {"text": [serializers.ErrorDetail("Text is empty.", code="text_required")]}
                )
        elif type_ in required and required[type_] not in attrs:
            errors[required[type_]] = [f"Required for type {type_}."]
        elif type_ not in required:
            has_media = "media" in attrs
            if has_media == (self.upload is not None):
                errors["media"] = [f"Give media (url or base64) or a file for type {type_}."]
        if type_ in CAPTION_TYPES and len(attrs.get("text", "")) > CAPTION_MAX_CHARS:
            raise serializers.ValidationError(
                {
                    "text": [
                        serializers.ErrorDetail(
                            f"A caption is at most {CAPTION_MAX_CHARS} characters.",
                            code="text_too_long",
                        )
                    ]
                }
            )
        for key in ("media", "location", "contact", "reaction"):
            owner_type = {"location": "location", "contact": "contact", "reaction": "reaction"}
            wanted = owner_type.get(key)
            if key in attrs and (
                (wanted and wanted != type_) or (not wanted and type_ in required)
            ):
                errors[key] = [f"Not allowed for type {type_}."]
        if "text" in attrs and type_ not in ("text", *CAPTION_TYPES):
            errors["text"] = [f"Not allowed for type {type_}."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class MessageUploadInput(serializers.Serializer):
    """The multipart/form-data form of a media send (documentation of the form's fields)."""

    sessionId = serializers.CharField(required=False)
    to = serializers.CharField()
    type = serializers.ChoiceField(
        choices=["image", "video", "audio", "voice", "document", "sticker"]
    )
    file = serializers.FileField()
    text = serializers.CharField(required=False, help_text="Caption (image, video, document)")
    filename = serializers.CharField(required=False, help_text="Default: the upload's name")
    mimetype = serializers.CharField(required=False)
    replyTo = serializers.CharField(required=False)
    mentions = serializers.ListField(child=serializers.CharField(), required=False)


class ContactCheckOutput(serializers.Serializer):
    phone = serializers.CharField(help_text="E.164 digits")
    onWhatsApp = serializers.BooleanField()
    jid = serializers.CharField(allow_null=True)


class HistoryMessageOutput(serializers.Serializer):
    id = serializers.CharField(help_text="Gateway message id (outbound) or WhatsApp id (inbound)")
    waMessageId = serializers.CharField(allow_null=True)
    direction = serializers.ChoiceField(choices=["in", "out"])
    chatId = serializers.CharField()
    type = serializers.CharField()
    status = serializers.CharField(allow_null=True)
    content = serializers.DictField(help_text="text, media{id, mimetype, filename, size}, …")
    createdAt = serializers.CharField()
    cursor = serializers.IntegerField(help_text="Pass as `since` to get the messages after it")


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
