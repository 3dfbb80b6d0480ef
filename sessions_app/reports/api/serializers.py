"""Validation of node reports; field names are `node_agent.protocol`'s."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway.fields import PrototypeFields, StrictCharField, StrictIntegerField
from node_agent import protocol
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


class GroupEventReportInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    workerId = worker_id_field("The reporting node's id.")
    event = serializers.ChoiceField(choices=protocol.GROUP_EVENTS)
    eventId = StrictCharField(max_length=100)
    group = StrictCharField(max_length=100)
    by = StrictCharField(max_length=100, required=False, allow_null=True, default=None)
    data = serializers.DictField(help_text="The event's details (protocol.GroupEventReport).")
    timestamp = serializers.DateTimeField()


class SessionEventReportInput(PrototypeFields, serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    workerId = worker_id_field("The reporting node's id.")
    type = serializers.ChoiceField(choices=protocol.SESSION_EVENT_TYPES)
    eventId = StrictCharField(max_length=100)
    data = serializers.DictField(help_text="The event's keys (protocol.SessionEventReport).")
    timestamp = serializers.DateTimeField()


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
