"""Serializers of the messages API (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from gateway.fields import PrototypeFields, StrictBooleanField, StrictCharField, StrictFloatField
from gateway.timefmt import iso_utc
from node_agent.protocol import MESSAGE_TYPES
from sessions_app.fields import RECIPIENT_MAX_CHARS, PhoneNumberField, RecipientField
from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.selectors import HISTORY_LIMIT_MAX
from sessions_app.messages.text import is_blank_text

# Types whose `text` is a caption. Caption limit: Meta, WhatsApp Cloud API reference,
# "Messages" — media object `caption`, at most 1024 characters.
CAPTION_TYPES = ("image", "video", "document")
VIEW_ONCE_TYPES = ("image", "video")  # what neonize 0.5.2's builders can send view-once
CAPTION_MAX_CHARS = 1024
MENTIONS_MAX = 256


class MediaInput(PrototypeFields, serializers.Serializer):
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


class LocationInput(PrototypeFields, serializers.Serializer):
    latitude = StrictFloatField(min_value=-90, max_value=90)
    longitude = StrictFloatField(min_value=-180, max_value=180)
    name = StrictCharField(max_length=256, required=False, allow_blank=True)
    address = StrictCharField(max_length=512, required=False, allow_blank=True)


class ContactInput(PrototypeFields, serializers.Serializer):
    name = StrictCharField(max_length=256)
    phone = PhoneNumberField(required=False, help_text="Any common written form")
    vcard = StrictCharField(max_length=10000, required=False, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("phone") and not attrs.get("vcard"):
            raise serializers.ValidationError("Give phone or vcard.")
        if attrs.get("vcard") and not attrs["vcard"].lstrip().upper().startswith("BEGIN:VCARD"):
            raise serializers.ValidationError({"vcard": ["Must start with BEGIN:VCARD."]})
        return attrs


# WhatsApp's own limit of a poll's options (its clients offer 12; neonize: "2--12 items").
POLL_OPTIONS_MAX = 12


class ReactionInput(PrototypeFields, serializers.Serializer):
    messageId = StrictCharField(max_length=100, help_text="WhatsApp id of the message reacted to")
    emoji = StrictCharField(
        max_length=16, allow_blank=True, trim_whitespace=False, help_text="Empty removes it"
    )


class MessageTargetInput(PrototypeFields, serializers.Serializer):
    messageId = StrictCharField(
        max_length=100, help_text="WhatsApp id (`waMessageId`) of a message the session sent"
    )


class PollInput(PrototypeFields, serializers.Serializer):
    name = StrictCharField(max_length=255, help_text="The question")
    options = serializers.ListField(
        child=StrictCharField(max_length=100), min_length=2, max_length=POLL_OPTIONS_MAX
    )
    selectableCount = serializers.IntegerField(
        min_value=0, default=1, help_text="How many a voter may choose; 0: any number"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        options = attrs["options"]
        if len(set(options)) != len(options):
            raise serializers.ValidationError({"options": ["Options must differ."]})
        if attrs["selectableCount"] > len(options):
            raise serializers.ValidationError({"selectableCount": ["More than the options."]})
        return attrs


class MessageSendInput(PrototypeFields, serializers.Serializer):
    """The send body; each type has its own required fields (see `validate`).

    - text: `text`
    - image, video, document: `media` (or a multipart `file`), `text` optional as the caption;
      a document's file name comes from `media.filename`, the upload or the URL
    - audio, voice (OGG/Opus, sent as a voice note), sticker (WebP): `media` or `file`
    - location: `location{latitude, longitude, name?, address?}`
    - contact: `contact{name, phone | vcard}`
    - reaction: `reaction{messageId, emoji}` (empty emoji removes the reaction)
    - edit: `edit{messageId}` and `text`, the new text (WhatsApp allows 15 minutes)
    - revoke: `revoke{messageId}`: deleted for everyone
    - poll: `poll{name, options (2-12), selectableCount (0: any number)}`; votes are poll.vote
    - image and video may be `viewOnce` (JSON bodies)
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
    edit = MessageTargetInput(required=False, help_text="edit: the message; `text` is the new one")
    revoke = MessageTargetInput(required=False, help_text="revoke: the message, for everyone")
    poll = PollInput(required=False)
    viewOnce = StrictBooleanField(
        required=False, help_text="image, video: the recipient can open it once"
    )
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
            "edit": "edit",
            "revoke": "revoke",
            "poll": "poll",
        }
        errors: dict[str, list[Any]] = {}
        if type_ in ("text", "edit"):
            if is_blank_text(attrs.get("text", "")):
                raise serializers.ValidationError(
                    {"text": [serializers.ErrorDetail("Text is empty.", code="text_required")]}
                )
        if type_ in required and type_ != "text" and required[type_] not in attrs:
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
        for key in ("media", "location", "contact", "reaction", "edit", "revoke", "poll"):
            owner_type = {k: k for k in ("location", "contact", "reaction", "edit", "revoke")}
            owner_type["poll"] = "poll"
            wanted = owner_type.get(key)
            if key in attrs and (
                (wanted and wanted != type_) or (not wanted and type_ in required)
            ):
                errors[key] = [f"Not allowed for type {type_}."]
        if attrs.get("viewOnce") and type_ not in VIEW_ONCE_TYPES:
            errors["viewOnce"] = [f"Only for {' and '.join(VIEW_ONCE_TYPES)}."]
        if "text" in attrs and type_ not in ("text", "edit", *CAPTION_TYPES):
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


class MessageOutput(PrototypeFields, serializers.Serializer):
    """A message as the API shows it (read from an OutboundMessage)."""

    messageId = serializers.CharField(source="id")
    sessionId = serializers.CharField(source="session_id")
    status = serializers.ChoiceField(choices=OutboundMessage.Status.choices)
    to = serializers.CharField()
    chatId = serializers.CharField(source="chat_jid")
    type = serializers.CharField()
    waMessageId = serializers.CharField(source="wa_message_id")
    error = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    sentAt = serializers.DateTimeField(source="sent_at", allow_null=True)
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)
    readAt = serializers.DateTimeField(source="read_at", allow_null=True)
    failedAt = serializers.DateTimeField(source="failed_at", allow_null=True)

    def get_error(self, message: OutboundMessage) -> dict[str, str] | None:
        if not message.error_code:
            return None
        return {"code": message.error_code, "message": message.error_message}

    def to_representation(self, instance: OutboundMessage) -> dict[str, Any]:
        """The fields above, built directly: this answers every accepted send, and DRF's walk
        field by field cost more than validating the send (a test holds the two equal)."""

        def at(moment: Any) -> str | None:
            return iso_utc(moment) if moment is not None else None

        return {
            "messageId": instance.id,
            "sessionId": instance.session_id,
            "status": instance.status,
            "to": instance.to,
            "chatId": instance.chat_jid,
            "type": instance.type,
            "waMessageId": instance.wa_message_id,
            "error": self.get_error(instance),
            "createdAt": at(instance.created_at),
            "sentAt": at(instance.sent_at),
            "deliveredAt": at(instance.delivered_at),
            "readAt": at(instance.read_at),
            "failedAt": at(instance.failed_at),
        }


class HistoryQuery(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)  # SQLite INTEGER
    limit = serializers.IntegerField(min_value=1, max_value=HISTORY_LIMIT_MAX, default=50)
    before = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)
    order = serializers.ChoiceField(choices=["asc", "desc"], default="asc")
    direction = serializers.ChoiceField(choices=["in", "out"], required=False, default="")
    q = serializers.CharField(max_length=100, required=False, default="", trim_whitespace=True)
    chat = RecipientField(required=False, help_text="One chat only: a phone number or a JID")

    def page(self) -> dict[str, Any]:
        """The validated query as `selectors.message_history` keywords."""
        data = self.validated_data
        return {
            "since": data["since"],
            "limit": data["limit"],
            "before": data["before"],
            "newest_first": data["order"] == "desc",
            "direction": data["direction"],
            "query": data["q"],
            "chat": data["chat"].chat_jid if data.get("chat") else "",
        }


class ContactCheckQuery(serializers.Serializer):
    phone = PhoneNumberField(max_length=RECIPIENT_MAX_CHARS, error_code="invalid_recipient")
