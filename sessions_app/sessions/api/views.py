"""Public API for sessions and the sandbox phone (`/api/v1/sessions…`). Thin: serializers
validate, services act."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view

from gateway.api import OwnerApiView, validated
from gateway.errors import envelope
from gateway.schema import error_answers
from node_agent.protocol import SessionCall
from sessions_app.calls import session_call
from sessions_app.errors import KeyBoundToSession
from sessions_app.sessions import pacing, sandbox, services
from sessions_app.sessions.api.serializers import (
    QrOutput,
    SandboxCallInput,
    SandboxIncomingInput,
    SandboxMessageActionInput,
    SandboxPresenceInput,
    SandboxScanInput,
    SessionConnectInput,
    SessionCreateInput,
    SessionOutput,
    SessionPacingAnswer,
    SessionPacingInput,
    SessionStatusOutput,
)
from sessions_app.sessions.models import PACING_DELAY_MAX_MS, Session
from sessions_app.sessions.selectors import session_get, session_list

TAG_SESSIONS = ["sessions"]
TAG_SANDBOX = ["sandbox"]


class SessionApiView(OwnerApiView):
    """A view about one of the caller's sessions (another's, or outside the key's, is a 404)."""

    def get_session(self, session_id: str) -> Session:
        return session_get(owner=self.owner, session_id=session_id, api_key=self.api_key)


class SessionCallApiView(SessionApiView):
    """A view whose operations are one kind of RPC to the session's node (`call_task`, a
    protocol.SessionCall): groups, contacts, chats."""

    call_task: type[SessionCall]

    def ask(self, session_id: str, op: str, **params: Any) -> Any:
        """Run operation `op` on the session's node; return its result (`session_call`)."""
        session = self.get_session(session_id)
        task = self.call_task(session_id=session.id, op=op, params=params)
        return session_call(session=session, task=task)


class SessionListCreateApi(OwnerApiView):
    @extend_schema(tags=TAG_SESSIONS, responses=SessionOutput(many=True), summary="List sessions")
    def get(self, request: Any) -> Any:
        sessions = session_list(owner=self.owner, api_key=self.api_key)
        return envelope(SessionOutput(sessions, many=True).data)

    @extend_schema(
        tags=TAG_SESSIONS,
        request=SessionCreateInput,
        responses={
            201: SessionOutput,
            **error_answers({403: "`api_key_session_scoped`: a key bound to one session."}),
        },
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

    @extend_schema(
        tags=TAG_SESSIONS,
        responses={
            200: None,
            **error_answers({403: "`api_key_session_scoped`: a key bound to one session."}),
        },
        summary="Delete a session",
        description="A key bound to one session cannot delete it (403 `api_key_session_scoped`): "
        "it was handed out to use the session.",
    )
    def delete(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        if self.api_key is not None and self.api_key.session_id:
            raise KeyBoundToSession()
        services.session_delete(owner=self.owner, session=session)
        return envelope({"sessionId": session_id, "deleted": True})


class SessionConnectApi(SessionApiView):
    @extend_schema(
        tags=TAG_SESSIONS,
        request=SessionConnectInput,
        responses={
            202: SessionOutput,
            **error_answers(
                {
                    400: "`phone_number_required`: `pairing_code` without `phoneNumber`.",
                    403: "`plan_limit_reached`: the plan's sessions are all connected; "
                    "`engine_disabled`: the session's engine is off.",
                    409: "`session_already_connected`.",
                    503: "`no_worker_available`: no ONLINE node runs the session's engine.",
                }
            ),
        },
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


PACING_DESCRIPTION = f"""Human-like pacing of the session, off by default (README "Human-like
pacing"). Before each message its node waits a random `minDelayMs`..`maxDelayMs` (uniform,
0 to {PACING_DELAY_MAX_MS} ms) and, with `typing`, shows "typing…" in the chat before a text,
longer for longer texts (1 to 8 s). This is the session's own time: other sessions are not held
up. While the number was linked less than `newNumberDays` days ago (0: off), at most
`newNumberDailyCap` messages a UTC day are accepted; past that `POST /api/v1/messages` answers
429 `new_number_daily_cap` with `Retry-After` (the next UTC midnight, or the end of the new days
if sooner) and writes nothing.

The body replaces the whole pacing: a field left out is off. 400 `validation_error` names the
field: out of bounds, `minDelayMs` above `maxDelayMs`, `newNumberDays` without a cap, unknown."""

PACING_EXAMPLE = {
    "minDelayMs": 2000,
    "maxDelayMs": 6000,
    "typing": True,
    "newNumberDays": 7,
    "newNumberDailyCap": 50,
}


class SessionPacingApi(SessionApiView):
    @extend_schema(
        tags=TAG_SESSIONS, responses=SessionPacingAnswer, summary="Get the session's pacing"
    )
    def get(self, request: Any, session_id: str) -> Any:
        return envelope(SessionPacingAnswer(self.get_session(session_id)).data)

    @extend_schema(
        tags=TAG_SESSIONS,
        request=SessionPacingInput,
        responses={
            200: SessionPacingAnswer,
            400: OpenApiResponse(description="`validation_error`; `fields` names each field."),
        },
        summary="Set the session's human-like pacing",
        description=PACING_DESCRIPTION,
        examples=[
            OpenApiExample("A freshly linked number", value=PACING_EXAMPLE, request_only=True),
            OpenApiExample(
                "Saved",
                value={
                    "success": True,
                    "data": {
                        **PACING_EXAMPLE,
                        "newNumberUntil": "2026-12-10T09:30:00Z",
                        "sessionId": "ses_3f9a1c2b7d4e5f60",
                    },
                },
                response_only=True,
            ),
        ],
    )
    def put(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        data = SessionPacingInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = pacing.session_pacing_set(
            owner=self.owner, session=session, **data.service_kwargs()
        )
        return envelope(SessionPacingAnswer(session).data)


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
        responses={
            202: SessionOutput,
            **error_answers(
                {
                    409: "`not_sandbox_session`, `session_not_awaiting_scan` or `qr_expired` "
                    "(`qrString` is not the current QR)."
                }
            ),
        },
        summary="The sandbox phone scans the current QR (or enters the pairing code)",
    )
    def post(self, request: Any, session_id: str) -> Any:
        data = SandboxScanInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = sandbox.sandbox_scan(
            owner=self.owner,
            session=self.get_session(session_id),
            phone_number=data.validated_data.get("phoneNumber", ""),
            qr_string=data.validated_data.get("qrString", ""),
        )
        return envelope(SessionOutput(session).data, status=202)


class SandboxIncomingApi(SessionApiView):
    @extend_schema(
        tags=TAG_SANDBOX,
        request=SandboxIncomingInput,
        responses={
            202: None,
            **error_answers(
                {409: "`not_sandbox_session`, `session_has_no_node` or `session_not_connected`."}
            ),
            **error_answers(
                {
                    400: "`invalid_media`, or `unsafe_url` (a media URL).",
                    413: "`media_too_large`.",
                    422: "`media_type_mismatch`, `media_download_failed` or "
                    "`media_download_timeout`.",
                }
            ),
        },
        summary="A sandbox contact sends the session a message",
    )
    def post(self, request: Any, session_id: str) -> Any:
        data = SandboxIncomingInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = self.get_session(session_id)
        sandbox.sandbox_incoming(owner=self.owner, session=session, message=data.validated_data)
        return envelope({"sessionId": session.id, "accepted": True}, status=202)


class SandboxPhoneActionApi(SessionApiView):
    """`logout` (the phone removes the linked device) or `disconnect` (the connection drops);
    subclasses name other actions and the input they take (`input_class`)."""

    action = ""
    input_class: Any = None

    @extend_schema(
        tags=TAG_SANDBOX,
        request=None,
        responses={
            202: None,
            **error_answers(
                {409: "`not_sandbox_session`, `session_has_no_node` or `session_not_connected`."}
            ),
        },
    )
    def post(self, request: Any, session_id: str) -> Any:
        params = validated(self.input_class, request.data) if self.input_class else {}
        session = self.get_session(session_id)
        sandbox.sandbox_action(owner=self.owner, session=session, action=self.action, params=params)
        return envelope({"sessionId": session.id, "accepted": True}, status=202)


@extend_schema_view(
    post=extend_schema(
        request=SandboxPresenceInput,
        summary="A sandbox contact goes online or offline, types, records or pauses",
    )
)
class SandboxPresenceApi(SandboxPhoneActionApi):
    action = "presence"
    input_class = SandboxPresenceInput


@extend_schema_view(
    post=extend_schema(request=SandboxCallInput, summary="A sandbox contact calls the session")
)
class SandboxCallApi(SandboxPhoneActionApi):
    action = "call"
    input_class = SandboxCallInput


@extend_schema_view(
    post=extend_schema(
        request=SandboxMessageActionInput,
        summary="A sandbox contact reacts to, edits or revokes a message",
    )
)
class SandboxMessageActionApi(SandboxPhoneActionApi):
    action = "message_action"
    input_class = SandboxMessageActionInput
