"""Public API for sessions and messages (`/api/v1`). Thin: serializers validate, services act."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers

from gateway.api import OwnerApiView
from gateway.errors import envelope
from gateway.fields import StrictCharField
from sessions_app import selectors, services
from sessions_app.api.serializers import (
    MessageOutput,
    MessageSendInput,
    QrOutput,
    SandboxScanInput,
    SessionConnectInput,
    SessionCreateInput,
    SessionOutput,
    SessionStatusOutput,
)
from sessions_app.errors import InvalidIdempotencyKey, KeyBoundToSession

TAG_SESSIONS = ["sessions"]
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,100}")


def idempotency_key_from(request: Any) -> str | None:
    """Return the request's `Idempotency-Key` header, or None. Raises InvalidIdempotencyKey."""
    value = request.headers.get("Idempotency-Key")
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise InvalidIdempotencyKey()
    return value


TAG_MESSAGES = ["messages"]
TAG_SANDBOX = ["sandbox"]


class SessionApiView(OwnerApiView):
    """A view about one of the caller's sessions."""

    def get_session(self, session_id: str) -> Any:
        return selectors.session_get(owner=self.owner, session_id=session_id, api_key=self.api_key)


class SessionListCreateApi(OwnerApiView):
    @extend_schema(tags=TAG_SESSIONS, responses=SessionOutput(many=True), summary="List sessions")
    def get(self, request: Any) -> Any:
        sessions = selectors.session_list(owner=self.owner, api_key=self.api_key)
        return envelope(SessionOutput(sessions, many=True).data)

    @extend_schema(
        tags=TAG_SESSIONS,
        request=SessionCreateInput,
        responses={201: SessionOutput},
        summary="Create a session card (phase 1)",
    )
    def post(self, request: Any) -> Any:
        if self.api_key is not None and self.api_key.session_id:
            raise KeyBoundToSession()
        data = SessionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_create(owner=self.owner, **data.validated_data)
        return envelope(SessionOutput(session).data, status=201)


class SessionDetailApi(SessionApiView):
    @extend_schema(tags=TAG_SESSIONS, responses=SessionOutput, summary="Get a session")
    def get(self, request: Any, session_id: str) -> Any:
        return envelope(SessionOutput(self.get_session(session_id)).data)

    @extend_schema(tags=TAG_SESSIONS, responses={200: None}, summary="Delete a session")
    def delete(self, request: Any, session_id: str) -> Any:
        services.session_delete(owner=self.owner, session=self.get_session(session_id))
        return envelope({"sessionId": session_id, "deleted": True})


class SessionConnectApi(SessionApiView):
    @extend_schema(
        tags=TAG_SESSIONS,
        request=SessionConnectInput,
        responses={202: SessionOutput},
        summary="Start linking a session (phase 2): QR or pairing code",
    )
    def post(self, request: Any, session_id: str) -> Any:
        data = SessionConnectInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_connect(
            owner=self.owner,
            session=self.get_session(session_id),
            method=data.validated_data["method"],
            phone_number=data.validated_data.get("phoneNumber", ""),
        )
        return envelope(SessionOutput(session).data, status=202)


class SessionDisconnectApi(SessionApiView):
    @extend_schema(tags=TAG_SESSIONS, request=None, responses=SessionOutput, summary="Disconnect")
    def post(self, request: Any, session_id: str) -> Any:
        session = services.session_disconnect(
            owner=self.owner, session=self.get_session(session_id)
        )
        return envelope(SessionOutput(session).data)


class SessionLogoutApi(SessionApiView):
    @extend_schema(tags=TAG_SESSIONS, request=None, responses=SessionOutput, summary="Log out")
    def post(self, request: Any, session_id: str) -> Any:
        session = services.session_logout(owner=self.owner, session=self.get_session(session_id))
        return envelope(SessionOutput(session).data)


class SessionQrApi(SessionApiView):
    @extend_schema(tags=TAG_SESSIONS, responses=QrOutput, summary="Get the current QR code")
    def get(self, request: Any, session_id: str) -> Any:
        return envelope(QrOutput.from_session(self.get_session(session_id)))


class SessionStatusApi(SessionApiView):
    @extend_schema(tags=TAG_SESSIONS, responses=SessionStatusOutput, summary="Poll the status")
    def get(self, request: Any, session_id: str) -> Any:
        return envelope(SessionStatusOutput(self.get_session(session_id)).data)


class SandboxScanApi(SessionApiView):
    @extend_schema(
        tags=TAG_SANDBOX,
        request=SandboxScanInput,
        responses={202: SessionOutput},
        summary="The sandbox phone scans the current QR (or enters the pairing code)",
    )
    def post(self, request: Any, session_id: str) -> Any:
        data = SandboxScanInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.sandbox_scan(
            owner=self.owner,
            session=self.get_session(session_id),
            phone_number=data.validated_data.get("phoneNumber", ""),
            qr_string=data.validated_data.get("qrString", ""),
        )
        return envelope(SessionOutput(session).data, status=202)


class SandboxIncomingInput(serializers.Serializer):
    # `from` is a Python keyword, so the field is declared by name below.
    type = serializers.ChoiceField(choices=["text"], default="text")
    text = StrictCharField(max_length=4096)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = StrictCharField(max_length=32)
        return fields

    validate_from = SandboxScanInput.validate_phoneNumber


class SandboxIncomingApi(SessionApiView):
    @extend_schema(
        tags=TAG_SANDBOX,
        request=SandboxIncomingInput,
        responses={202: None},
        summary="A sandbox contact sends the session a message",
    )
    def post(self, request: Any, session_id: str) -> Any:
        data = SandboxIncomingInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = self.get_session(session_id)
        services.sandbox_action(
            owner=self.owner, session=session, action="incoming", params=dict(data.validated_data)
        )
        return envelope({"sessionId": session.id, "accepted": True}, status=202)


class SandboxPhoneActionApi(SessionApiView):
    """`logout` (the phone removes the linked device) or `disconnect` (the connection drops)."""

    action = ""

    @extend_schema(tags=TAG_SANDBOX, request=None, responses={202: None})
    def post(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        services.sandbox_action(owner=self.owner, session=session, action=self.action, params={})
        return envelope({"sessionId": session.id, "accepted": True}, status=202)


class MessageSendApi(OwnerApiView):
    @extend_schema(
        tags=TAG_MESSAGES,
        request=MessageSendInput,
        responses={202: MessageOutput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="A repeat with the same key and body returns the first message.",
            )
        ],
        examples=[
            OpenApiExample(
                "Text",
                value={"sessionId": "ses_…", "to": "+62 812-0000-0001", "text": "Hello"},
                request_only=True,
            )
        ],
        summary="Send a message",
    )
    def post(self, request: Any) -> Any:
        data = MessageSendInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        session_id = values.get("sessionId") or getattr(self.api_key, "session_id", None)
        if not session_id:
            raise serializers.ValidationError({"sessionId": ["This field is required."]})
        session = selectors.session_get(
            owner=self.owner, session_id=session_id, api_key=self.api_key
        )
        payload = {"type": values["type"], "text": values["text"]}
        if values.get("replyTo"):
            payload["replyTo"] = values["replyTo"]
        message, _created = services.message_send(
            owner=self.owner,
            session=session,
            api_key=self.api_key,
            to=values["to"].to,
            chat_jid=values["to"].chat_jid,
            payload=payload,
            idempotency_key=idempotency_key_from(request),
        )
        return envelope(MessageOutput(message).data, status=202)


class MessageDetailApi(OwnerApiView):
    @extend_schema(tags=TAG_MESSAGES, responses=MessageOutput, summary="Get a message's status")
    def get(self, request: Any, message_id: str) -> Any:
        message = selectors.message_get(
            owner=self.owner, message_id=message_id, api_key=self.api_key
        )
        return envelope(MessageOutput(message).data)


class SessionMessagesApi(SessionApiView):
    @extend_schema(
        tags=TAG_MESSAGES,
        responses=MessageOutput(many=True),
        summary="Outbound messages of a session (delivery ledger, newest first)",
    )
    def get(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        messages = selectors.message_list(owner=self.owner, session=session)
        return envelope(MessageOutput(messages, many=True).data)
