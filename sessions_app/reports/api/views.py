"""The views nodes report to, authenticated by the node token. Thin: each
validates a `node_agent.protocol` report and calls its domain's service.

A node's outbox deletes a report on any 2xx and drops it on most 4xx, so a report that is valid
but no longer matters (its session moved to another node) is answered 200 with `applied: false`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser

from gateway.api import NodeApiView, NodeIdentity
from gateway.errors import GatewayError, envelope
from gateway.metrics import CountedReport, node_report_counted
from gateway.schema import error_answers
from node_agent import protocol
from sessions_app.errors import MessageNotFound, SessionNotFound
from sessions_app.groups.services import group_event_apply
from sessions_app.media.api.views import media_file_response
from sessions_app.media.selectors import media_get_for_node
from sessions_app.media.services import media_descriptor, media_store_received
from sessions_app.messages.services import message_received_apply
from sessions_app.messages.statuses import StatusReport, message_statuses_apply
from sessions_app.reports.api.serializers import (
    GroupEventReportInput,
    MediaUploadInput,
    MessageReceivedReportInput,
    MessageStatusReportInput,
    ReportBatchInput,
    SessionEventReportInput,
    SessionStatusReportInput,
)
from sessions_app.sessions.selectors import session_for_node
from sessions_app.sessions.services import session_event_apply, session_status_apply
from sessions_app.webhooks.events import emit_batch

TAGS = ["node reports"]


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def apply_session_status(body: Any, node: NodeIdentity) -> dict[str, Any]:
    """Apply a session-status report; answer `{sessionId, status, applied}`. A node with its
    own credential reports as itself, whatever `workerId` says (NodeForbidden if it names
    another): a session that is not its own is not applied."""
    data = _valid(SessionStatusReportInput, body)
    if data["workerId"]:
        node.require(data["workerId"])
    worker_id = node.worker_id or data["workerId"]
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
    if not applied and not node.shared:  # not its session: tell it nothing of the session
        raise SessionNotFound()
    return {"sessionId": session.id, "status": session.status, "applied": applied}


def status_report(body: Any, checker: serializers.Serializer | None = None) -> StatusReport:
    """Read a message-status report. Raises ValidationError. A batch passes one `checker`
    (a MessageStatusReportInput) for all its reports, so their fields are bound once."""
    if checker is None:
        data = _valid(MessageStatusReportInput, body)
    else:
        data = checker.run_validation(body)
    error = data.get("error") or {}
    return StatusReport(
        session_id=data["sessionId"],
        message_id=data["messageId"],
        status=data["status"],
        timestamp=data["timestamp"],
        wa_message_id=data.get("waMessageId", ""),
        error_code=error.get("code", ""),
        error_message=error.get("message", ""),
        worker_id=data["workerId"],
    )


def apply_message_status(body: Any, node: NodeIdentity) -> dict[str, Any]:
    """Apply a message-status report; answer `{messageId, status}`. Raises MessageNotFound,
    also for a message of a session the node does not serve."""
    [message] = message_statuses_apply([status_report(body)], node_id=node.worker_id)
    if message is None:
        raise MessageNotFound()
    return {"messageId": message.id, "status": message.status}


def apply_message_received(body: Any, node: NodeIdentity) -> dict[str, Any]:
    """Apply a message-received report; answer `{sessionId, accepted}`. Raises
    SessionNotFound, also for a session the node (or the node it names) does not serve."""
    data = _valid(MessageReceivedReportInput, body)
    # The validated fields are only the ones every message has; the rest passes as sent.
    message_received_apply(
        session_id=data["sessionId"],
        message=body["message"],
        node_id=node.worker_id,
        claimed=data["workerId"],
    )
    return {"sessionId": data["sessionId"], "accepted": True}


def apply_group_event(body: Any, node: NodeIdentity) -> dict[str, Any]:
    """Apply a group-event report; answer `{sessionId, accepted}`. Raises SessionNotFound, also
    for a session the node (or the node it names) does not serve."""
    data = _valid(GroupEventReportInput, body)
    group_event_apply(
        session_id=data["sessionId"],
        event=data["event"],
        event_id=data["eventId"],
        group=data["group"],
        by=data["by"],
        data=dict(data["data"]),
        node_id=node.worker_id,
        claimed=data["workerId"],
    )
    return {"sessionId": data["sessionId"], "accepted": True}


def apply_session_event(body: Any, node: NodeIdentity) -> dict[str, Any]:
    """Apply a session-event report; answer `{sessionId, accepted}`. Raises SessionNotFound,
    also for a session the node (or the node it names) does not serve."""
    data = _valid(SessionEventReportInput, body)
    session_event_apply(
        session_id=data["sessionId"],
        type_=data["type"],
        event_id=data["eventId"],
        data=dict(data["data"]),
        node_id=node.worker_id,
        claimed=data["workerId"],
    )
    return {"sessionId": data["sessionId"], "accepted": True}


# One handler per report a batch may carry (node_agent.protocol.BATCHED_PATHS), and its kind in
# the metrics (gateway_node_reports_total).
KINDS = {
    protocol.SESSION_STATUS_PATH: "session_status",
    protocol.MESSAGE_STATUS_PATH: "message_status",
    protocol.MESSAGE_RECEIVED_PATH: "message_received",
    protocol.GROUP_EVENT_PATH: "group_event",
    protocol.SESSION_EVENT_PATH: "session_event",
}
HANDLERS: dict[str, Callable[[Any, NodeIdentity], dict[str, Any]]] = {
    protocol.SESSION_STATUS_PATH: apply_session_status,
    protocol.MESSAGE_STATUS_PATH: apply_message_status,
    protocol.MESSAGE_RECEIVED_PATH: apply_message_received,
    protocol.GROUP_EVENT_PATH: apply_group_event,
    protocol.SESSION_EVENT_PATH: apply_session_event,
}


class SessionStatusReportApi(CountedReport, NodeApiView):
    report_kind = "session_status"

    @extend_schema(
        tags=TAGS,
        request=SessionStatusReportInput,
        responses={
            200: None,
            **error_answers(
                {
                    404: "`session_not_found`.",
                    403: "`node_forbidden`: the body names another node than the credential's.",
                }
            ),
        },
        description="Answers `{sessionId, status, applied}`: `applied` is false when the "
        "report came from a node the session has moved away from (it changed nothing). 404 "
        "`session_not_found`.",
    )
    def post(self, request: Any) -> Any:
        return envelope(apply_session_status(request.data, self.node))


class MessageStatusReportApi(CountedReport, NodeApiView):
    report_kind = "message_status"

    @extend_schema(
        tags=TAGS,
        request=MessageStatusReportInput,
        responses={200: None, **error_answers({404: "`message_not_found`."})},
    )
    def post(self, request: Any) -> Any:
        return envelope(apply_message_status(request.data, self.node))


class GroupEventReportApi(CountedReport, NodeApiView):
    report_kind = "group_event"

    @extend_schema(
        tags=TAGS,
        request=GroupEventReportInput,
        responses={200: None, **error_answers({404: "`session_not_found`."})},
    )
    def post(self, request: Any) -> Any:
        return envelope(apply_group_event(request.data, self.node))


class SessionEventReportApi(CountedReport, NodeApiView):
    report_kind = "session_event"

    @extend_schema(
        tags=TAGS,
        request=SessionEventReportInput,
        responses={200: None, **error_answers({404: "`session_not_found`."})},
    )
    def post(self, request: Any) -> Any:
        return envelope(apply_session_event(request.data, self.node))


class MessageReceivedReportApi(CountedReport, NodeApiView):
    report_kind = "message_received"

    @extend_schema(
        tags=TAGS,
        request=MessageReceivedReportInput,
        responses={200: None, **error_answers({404: "`session_not_found`."})},
    )
    def post(self, request: Any) -> Any:
        return envelope(apply_message_received(request.data, self.node))


def _outcome(
    handler: Callable[[Any, NodeIdentity], dict[str, Any]], body: Any, node: NodeIdentity
) -> dict[str, Any]:
    """Apply one report of a batch in its own transaction; return `{status, code}`.

    A report refused (a validation or domain error) changes nothing and does not stop the
    others; any other error ends the batch with a 5xx, and the node sends it again (reports are
    idempotent, so those already applied change nothing the second time).
    """
    try:
        with transaction.atomic():
            handler(body, node)
    except serializers.ValidationError:
        return {"status": 400, "code": "validation_error"}
    except GatewayError as exc:
        return {"status": exc.http_status, "code": exc.code}
    return {"status": 200, "code": ""}


# Message statuses next to each other in a batch are applied together, this many at a time.
STATUS_RUN_MAX = 50
_OK = {"status": 200, "code": ""}


def _statuses_outcomes(bodies: list[Any], node: NodeIdentity) -> list[dict[str, Any]]:
    """Apply a run of message-status reports in one transaction; one outcome each."""
    outcomes: list[dict[str, Any] | None] = []
    valid: list[StatusReport] = []
    checker = MessageStatusReportInput()
    for body in bodies:
        try:
            valid.append(status_report(body, checker))
            outcomes.append(None)
        except serializers.ValidationError:
            outcomes.append({"status": 400, "code": "validation_error"})
    applied = iter(message_statuses_apply(valid, node_id=node.worker_id)) if valid else iter(())
    missing = {"status": MessageNotFound.http_status, "code": MessageNotFound.code}
    return [outcome or (_OK if next(applied) is not None else missing) for outcome in outcomes]


def _batch_outcomes(reports: list[dict[str, Any]], node: NodeIdentity) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for path, run in itertools.groupby(reports, key=lambda report: report["path"]):
        bodies = [report["body"] for report in run]
        if path == protocol.MESSAGE_STATUS_PATH:
            for start in range(0, len(bodies), STATUS_RUN_MAX):
                results += _statuses_outcomes(bodies[start : start + STATUS_RUN_MAX], node)
        else:
            results += [_outcome(HANDLERS[path], body, node) for body in bodies]
    return results


class ReportBatchApi(NodeApiView):
    @extend_schema(
        tags=TAGS,
        request=ReportBatchInput,
        responses={
            200: None,
            **error_answers(
                {403: "`node_forbidden`: the body names another node than the credential's."}
            ),
        },
        description="Many reports in one request, applied in their order, each in a "
        "transaction of its own. Answers `{results: [{status, code}]}`, one per report: 200 "
        "applied, 4xx refused for good. A 5xx means the batch must be sent again (reports are "
        "idempotent).",
    )
    def post(self, request: Any) -> Any:
        data = _valid(ReportBatchInput, request.data)
        node = self.node
        if data["workerId"]:
            node.require(data["workerId"])
            # The shared token names no node: the batch's own workerId speaks for its reports.
            node = NodeIdentity(worker_id=data["workerId"])
        # Short transactions, not one for the batch: on SQLite a writer holds the one write
        # lock for its whole transaction, and a batch of 200 kept webhook deliveries and
        # sends waiting for it. Message statuses go in bulk (STATUS_RUN_MAX to a transaction),
        # other reports one by one; their webhook tasks are queued once, at the end.
        with emit_batch():
            results = _batch_outcomes(data["reports"], node)
        for report, result in zip(data["reports"], results, strict=True):
            node_report_counted(KINDS[report["path"]], applied=result["status"] < 300)
        return envelope({protocol.RESULTS: results})


class NodeMediaDownloadApi(NodeApiView):
    """A node fetches a file it must send (`media.id` of a message_send payload)."""

    @extend_schema(tags=TAGS, responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Any, media_id: str) -> Any:
        return media_file_response(
            media_get_for_node(media_id=media_id, node_id=self.node.worker_id)
        )


class MediaUploadReportApi(CountedReport, NodeApiView):
    """A node uploads a file a session received; the answer's `id` goes in message-received."""

    report_kind = "media"

    parser_classes = [MultiPartParser]

    @staticmethod
    def max_upload_bytes() -> int:
        """A received file is capped by MEDIA_MAX_BYTES only (gateway.bodylimits)."""
        return settings.MEDIA_MAX_BYTES

    @extend_schema(
        tags=TAGS,
        request={"multipart/form-data": MediaUploadInput},
        responses={
            201: None,
            **error_answers(
                {
                    400: "`invalid_media`.",
                    404: "`session_not_found`.",
                    413: "`media_too_large`.",
                }
            ),
        },
    )
    def post(self, request: Any) -> Any:
        data = _valid(MediaUploadInput, request.data)
        media = media_store_received(
            session=session_for_node(session_id=data["sessionId"], node_id=self.node.worker_id),
            upload=data["file"],
            mimetype=data.get("mimetype", ""),
            filename=data.get("filename", ""),
        )
        return envelope(media_descriptor(media), status=201)
