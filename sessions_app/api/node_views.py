"""Webhook views the node agents report to (DESIGN.md §3.1), authenticated by the node token.

A node's outbox deletes a report on any 2xx and drops it on most 4xx, so a report that is valid
but no longer matters (its session moved to another node) is answered 200 with `applied: false`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser

from gateway.api import NodeApiView
from gateway.errors import SessionNotFound, envelope
from sessions_app import services
from sessions_app.models import OutboundMessage, Session

TAGS = ["node webhooks"]


class UpperChoiceField(serializers.ChoiceField):
    """A choice compared case-insensitively and stored upper case (nodes may send `qr_required`)."""

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(str(data).upper())


class SessionStatusReport(serializers.Serializer):
    sessionId = serializers.CharField(max_length=32)
    workerId = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The reporting node's id; a report from a node the session has moved away "
        "from is not applied.",
    )
    status = UpperChoiceField(choices=Session.Status.values)
    qrCode = serializers.CharField(required=False, allow_blank=True)
    qrString = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    qrExpiresAt = serializers.DateTimeField(required=False, allow_null=True)
    qrIndex = serializers.IntegerField(required=False, min_value=0)
    pairingCode = serializers.CharField(required=False, allow_blank=True, max_length=16)
    phoneNumber = serializers.CharField(required=False, allow_blank=True, max_length=20)
    jid = serializers.CharField(required=False, allow_blank=True, max_length=100)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=64)
    timestamp = serializers.DateTimeField()


class MessageStatusError(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    message = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class MessageStatusReport(serializers.Serializer):
    sessionId = serializers.CharField(max_length=32)
    workerId = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The reporting node's id. Applied whichever node reports: a message the "
        "session's former node sent is still sent.",
    )
    messageId = serializers.CharField(max_length=32)
    waMessageId = serializers.CharField(required=False, allow_blank=True, max_length=64)
    status = serializers.ChoiceField(
        choices=[s for s in OutboundMessage.Status.values if s != OutboundMessage.Status.QUEUED]
    )
    error = MessageStatusError(required=False, allow_null=True)
    timestamp = serializers.DateTimeField()


class IncomingMessage(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    type = serializers.CharField(max_length=32)
    timestamp = serializers.DateTimeField()

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=100)
        return fields


class MessageReceivedReport(serializers.Serializer):
    sessionId = serializers.CharField(max_length=32)
    workerId = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The reporting node's id. Applied whichever node reports.",
    )
    message = IncomingMessage()


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class SessionStatusWebhook(NodeApiView):
    @extend_schema(
        tags=TAGS,
        request=SessionStatusReport,
        responses={200: None},
        description="Answers `{sessionId, status, applied}`: `applied` is false when the "
        "report came from a node the session has moved away from (it changed nothing). 404 "
        "`session_not_found`.",
    )
    def post(self, request: Any) -> Any:
        data = _valid(SessionStatusReport, request.data)
        worker_id = data["workerId"]
        session = services.session_status_apply(
            session_id=data["sessionId"],
            status=data["status"],
            timestamp=data["timestamp"],
            qr_string=data.get("qrString", ""),
            qr_expires_at=data.get("qrExpiresAt"),
            pairing_code=data.get("pairingCode", ""),
            phone_number=data.get("phoneNumber", ""),
            jid=data.get("jid", ""),
            reason=data.get("reason", ""),
            worker_id=worker_id,
        )
        applied = not worker_id or session.worker_id == worker_id
        return envelope({"sessionId": session.id, "status": session.status, "applied": applied})


class MessageStatusWebhook(NodeApiView):
    @extend_schema(tags=TAGS, request=MessageStatusReport, responses={200: None})
    def post(self, request: Any) -> Any:
        data = _valid(MessageStatusReport, request.data)
        error = data.get("error") or {}
        message = services.message_status_apply(
            session_id=data["sessionId"],
            message_id=data["messageId"],
            status=data["status"],
            timestamp=data["timestamp"],
            wa_message_id=data.get("waMessageId", ""),
            error_code=error.get("code", ""),
            error_message=error.get("message", ""),
        )
        return envelope({"messageId": message.id, "status": message.status})


class MessageReceivedWebhook(NodeApiView):
    @extend_schema(tags=TAGS, request=MessageReceivedReport, responses={200: None})
    def post(self, request: Any) -> Any:
        data = _valid(MessageReceivedReport, request.data)
        services.message_received_apply(
            session_id=data["sessionId"], message=request.data["message"]
        )
        return envelope({"sessionId": data["sessionId"], "accepted": True})


class NodeMediaDownload(NodeApiView):
    """A node fetches a file it must send (`media.id` of a message_send payload)."""

    @extend_schema(tags=TAGS, responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Any, media_id: str) -> Any:
        from sessions_app.api.views import media_file_response
        from sessions_app.errors import MediaNotFound
        from sessions_app.models import MediaFile

        media = MediaFile.objects.filter(id=media_id).first()
        if media is None:
            raise MediaNotFound()
        return media_file_response(media)


class MediaUploadForm(serializers.Serializer):
    sessionId = serializers.CharField(max_length=32)
    file = serializers.FileField()
    mimetype = serializers.CharField(max_length=100, required=False, allow_blank=True)
    filename = serializers.CharField(
        max_length=255, required=False, allow_blank=True, trim_whitespace=False
    )


class MediaUploadWebhook(NodeApiView):
    """A node uploads a file a session received; the answer's `id` goes in message-received."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=TAGS,
        request={"multipart/form-data": MediaUploadForm},
        responses={201: None},
    )
    def post(self, request: Any) -> Any:
        from sessions_app.media import media_descriptor, media_store_received

        data = _valid(MediaUploadForm, request.data)
        session = Session.objects.filter(id=data["sessionId"]).select_related("owner").first()
        if session is None:
            raise SessionNotFound()
        media = media_store_received(
            session=session,
            upload=data["file"],
            mimetype=data.get("mimetype", ""),
            filename=data.get("filename", ""),
        )
        return envelope(media_descriptor(media), status=201)
