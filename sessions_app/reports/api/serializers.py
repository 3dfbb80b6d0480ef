"""Validation of node reports; field names are `node_agent.protocol`'s."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from gateway.fields import PrototypeFields, StrictCharField, StrictIntegerField
from node_agent import chats, groups, protocol
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session


class UpperChoiceField(serializers.ChoiceField):
    """A choice compared case-insensitively and stored upper case (nodes may send `qr_required`)."""

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(str(data).upper())


def worker_id_field(help_text: str) -> StrictCharField:
    """Return the optional `workerId` of a report: the reporting node ("" when not sent)."""
    return StrictCharField(
        max_length=64, required=False, allow_blank=True, default="", help_text=help_text
    )


class SessionStatusReportInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    workerId = worker_id_field(
        "The reporting node's id; a report from a node the session has moved away from is not "
        "applied."
    )
    status = UpperChoiceField(choices=Session.Status.values)
    qrString = StrictCharField(required=False, allow_blank=True, max_length=1000)
    qrExpiresAt = serializers.DateTimeField(required=False, allow_null=True)
    qrIndex = StrictIntegerField(required=False, min_value=0)
    pairingCode = StrictCharField(required=False, allow_blank=True, max_length=16)
    phoneNumber = StrictCharField(required=False, allow_blank=True, max_length=20)
    jid = StrictCharField(required=False, allow_blank=True, max_length=100)
    reason = StrictCharField(required=False, allow_blank=True, max_length=64)
    timestamp = serializers.DateTimeField()


class MessageStatusErrorInput(PrototypeFields, serializers.Serializer):
    code = StrictCharField(max_length=64)
    message = StrictCharField(required=False, allow_blank=True, max_length=300, default="")


class MessageStatusReportInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    workerId = worker_id_field(
        "The reporting node's id. Applied whichever node reports: a message the session's "
        "former node sent is still sent."
    )
    messageId = StrictCharField(max_length=32)
    waMessageId = StrictCharField(required=False, allow_blank=True, max_length=64)
    status = serializers.ChoiceField(
        choices=[s for s in OutboundMessage.Status.values if s != OutboundMessage.Status.QUEUED]
    )
    error = MessageStatusErrorInput(required=False, allow_null=True)
    timestamp = serializers.DateTimeField()


class IncomingMessageInput(PrototypeFields, serializers.Serializer):
    id = StrictCharField(max_length=100)
    type = StrictCharField(max_length=32)
    timestamp = serializers.DateTimeField()

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = StrictCharField(max_length=100)
        return fields


class MessageReceivedReportInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    workerId = worker_id_field("The reporting node's id. Applied whichever node reports.")
    message = IncomingMessageInput()


# An event's `data` as JSON at most (a webhook body carries it to the user as it is).
EVENT_DATA_MAX_BYTES = 512 * 1024  # a joined group of 1,024 members: ~130 KB


def bounded_data(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse an event's `data` past EVENT_DATA_MAX_BYTES as JSON."""
    if len(json.dumps(value, separators=(",", ":"))) > EVENT_DATA_MAX_BYTES:
        raise serializers.ValidationError(f"At most {EVENT_DATA_MAX_BYTES} bytes of JSON.")
    return value


class ContactChangesInput(PrototypeFields, serializers.Serializer):
    pushName = StrictCharField(max_length=100, required=False)
    picture = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("No change.")
        return attrs


class ContactUpdatedInput(PrototypeFields, serializers.Serializer):
    contact = StrictCharField(max_length=100)
    phone = StrictCharField(max_length=32, allow_null=True, required=False, default=None)
    lid = StrictCharField(max_length=100, allow_null=True, required=False, default=None)
    changes = ContactChangesInput()


class PresenceUpdateInput(PrototypeFields, serializers.Serializer):
    contact = StrictCharField(max_length=100)
    chat = StrictCharField(max_length=100, allow_null=True, required=False, default=None)
    state = serializers.ChoiceField(choices=chats.CONTACT_PRESENCE_STATES)
    lastSeen = serializers.DateTimeField(allow_null=True, required=False, default=None)

    def to_internal_value(self, data: Any) -> Any:
        values = super().to_internal_value(data)
        if values.get("lastSeen") is not None:  # passed on as the node wrote it
            values["lastSeen"] = data["lastSeen"]
        return values


class MessageActionInput(PrototypeFields, serializers.Serializer):
    """A contact's reaction, edit or revoke (node_agent/message_actions.py)."""

    chatId = StrictCharField(max_length=100)
    messageId = StrictCharField(max_length=100)
    fromPhone = StrictCharField(max_length=32, allow_null=True, required=False, default=None)
    fromLid = StrictCharField(max_length=100, allow_null=True, required=False, default=None)
    senderJid = StrictCharField(max_length=100, required=False)
    timestamp = StrictCharField(max_length=40, allow_null=True, required=False, default=None)
    emoji = StrictCharField(max_length=32, allow_blank=True, required=False)
    selected = serializers.ListField(
        child=StrictCharField(max_length=100), max_length=12, required=False
    )
    text = StrictCharField(
        max_length=65536, allow_blank=True, required=False, trim_whitespace=False
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = StrictCharField(max_length=100)
        return fields


class CallInput(PrototypeFields, serializers.Serializer):
    """An incoming call (call.received) or its declining (call.rejected)."""

    callId = StrictCharField(max_length=100)
    at = StrictCharField(max_length=40, allow_null=True, required=False)
    video = serializers.BooleanField(allow_null=True, required=False)
    message = StrictCharField(max_length=4096, allow_blank=True, required=False)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = StrictCharField(max_length=100)
        return fields


class ChatUpdatedInput(PrototypeFields, serializers.Serializer):
    chatId = StrictCharField(max_length=100)
    archived = serializers.BooleanField()
    pinned = serializers.BooleanField()
    mutedUntil = StrictCharField(max_length=40, allow_null=True)
    unread = serializers.IntegerField(min_value=0)


# The shape of each session event's `data` (protocol.SessionEventReport).
SESSION_EVENT_DATA = {
    "contact.updated": ContactUpdatedInput,
    "presence.update": PresenceUpdateInput,
    "message.reaction": MessageActionInput,
    "message.edited": MessageActionInput,
    "message.revoked": MessageActionInput,
    "message.read": MessageActionInput,
    "poll.vote": MessageActionInput,
    "call.received": CallInput,
    "call.rejected": CallInput,
    "chat.updated": ChatUpdatedInput,
}


def _jids(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and len(v) < 100 for v in value)


GROUP_EVENT_DATA: dict[str, dict[str, Any]] = {
    "joined": {"info": lambda v: v is None or isinstance(v, dict)},
    "left": {},
    "participants": {
        "action": lambda v: v in groups.PARTICIPANT_ACTIONS,
        "participants": _jids,
    },
    "updated": {
        "changes": lambda v: isinstance(v, dict) and set(v) <= {*groups.CHANGE_KEYS, "picture"}
    },
}


class GroupEventReportInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    workerId = worker_id_field("The reporting node's id.")
    event = serializers.ChoiceField(choices=protocol.GROUP_EVENTS)
    eventId = StrictCharField(max_length=100)
    group = StrictCharField(max_length=100)
    by = StrictCharField(max_length=100, required=False, allow_null=True, default=None)
    data = serializers.DictField(
        help_text="The event's details (protocol.GroupEventReport).", validators=[bounded_data]
    )
    timestamp = serializers.DateTimeField()

    def validate_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """The shape each event's data has (protocol.GroupEventReport); nothing else passes."""
        event = self.initial_data.get("event") if isinstance(self.initial_data, dict) else None
        allowed = GROUP_EVENT_DATA.get(str(event), {})
        for key, value in data.items():
            check = allowed.get(key)
            if check is None or not check(value):
                raise serializers.ValidationError(f"Unexpected {key!r} for a {event} event.")
        return data


class SessionEventReportInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    workerId = worker_id_field("The reporting node's id.")
    type = serializers.ChoiceField(choices=protocol.SESSION_EVENT_TYPES)
    eventId = StrictCharField(max_length=100)
    data = serializers.DictField(help_text="The event's keys (protocol.SessionEventReport).")
    timestamp = serializers.DateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        shape = SESSION_EVENT_DATA[attrs["type"]](data=attrs["data"])
        if not shape.is_valid():
            raise serializers.ValidationError({"data": shape.errors})
        attrs["data"] = dict(shape.validated_data)
        return attrs


class MediaUploadInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    file = serializers.FileField()
    mimetype = StrictCharField(max_length=100, required=False, allow_blank=True)
    filename = StrictCharField(
        max_length=255, required=False, allow_blank=True, trim_whitespace=False
    )


class BatchedReportInput(PrototypeFields, serializers.Serializer):
    path = serializers.ChoiceField(choices=protocol.BATCHED_PATHS)
    body = serializers.DictField(help_text="The report, as it would be posted to `path`.")


class ReportBatchInput(PrototypeFields, serializers.Serializer):
    workerId = worker_id_field("The reporting node's id (each report names it too).")
    reports = BatchedReportInput(many=True, allow_empty=False, max_length=protocol.REPORT_BATCH_MAX)
