"""The views nodes report to, authenticated by the node token. Thin: each
validates a `node_agent.protocol` report and calls its domain's service.

A node's outbox deletes a report on any 2xx and drops it on most 4xx, so a report that is valid
but no longer matters (its session moved to another node) is answered 200 with `applied: false`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser

from gateway.api import NodeApiView
from gateway.errors import envelope
from sessions_app.media.api.views import media_file_response
from sessions_app.media.selectors import media_get_any
from sessions_app.media.services import media_descriptor, media_store_received
from sessions_app.messages.services import message_received_apply, message_status_apply
from sessions_app.reports.api.serializers import (
    MediaUploadInput,
    MessageReceivedReportInput,
    MessageStatusReportInput,
    SessionStatusReportInput,
)
from sessions_app.sessions.selectors import session_for_node
from sessions_app.sessions.services import session_status_apply

TAGS = ["node reports"]


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class SessionStatusReportApi(NodeApiView):
    @extend_schema(
        tags=TAGS,
        request=SessionStatusReportInput,
        responses={200: None},
        description="Answers `{sessionId, status, applied}`: `applied` is false when the "
        "report came from a node the session has moved away from (it changed nothing). 404 "
        "`session_not_found`.",
    )
    def post(self, request: Any) -> Any:
        data = _valid(SessionStatusReportInput, request.data)
        worker_id = data["workerId"]
        session = session_status_apply(
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


class MessageStatusReportApi(NodeApiView):
    @extend_schema(tags=TAGS, request=MessageStatusReportInput, responses={200: None})
    def post(self, request: Any) -> Any:
        data = _valid(MessageStatusReportInput, request.data)
        error = data.get("error") or {}
        message = message_status_apply(
            session_id=data["sessionId"],
            message_id=data["messageId"],
            status=data["status"],
            timestamp=data["timestamp"],
            wa_message_id=data.get("waMessageId", ""),
            error_code=error.get("code", ""),
            error_message=error.get("message", ""),
        )
        return envelope({"messageId": message.id, "status": message.status})


class MessageReceivedReportApi(NodeApiView):
    @extend_schema(tags=TAGS, request=MessageReceivedReportInput, responses={200: None})
    def post(self, request: Any) -> Any:
        data = _valid(MessageReceivedReportInput, request.data)
        # The validated fields are only the ones every message has; the rest passes as sent.
        message_received_apply(session_id=data["sessionId"], message=request.data["message"])
        return envelope({"sessionId": data["sessionId"], "accepted": True})


class NodeMediaDownloadApi(NodeApiView):
    """A node fetches a file it must send (`media.id` of a message_send payload)."""

    @extend_schema(tags=TAGS, responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Any, media_id: str) -> Any:
        return media_file_response(media_get_any(media_id=media_id))


class MediaUploadReportApi(NodeApiView):
    """A node uploads a file a session received; the answer's `id` goes in message-received."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=TAGS, request={"multipart/form-data": MediaUploadInput}, responses={201: None}
    )
    def post(self, request: Any) -> Any:
        data = _valid(MediaUploadInput, request.data)
        media = media_store_received(
            session=session_for_node(session_id=data["sessionId"]),
            upload=data["file"],
            mimetype=data.get("mimetype", ""),
            filename=data.get("filename", ""),
        )
        return envelope(media_descriptor(media), status=201)
