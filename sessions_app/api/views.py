"""Public API for sessions and messages (`/api/v1`). Thin: serializers validate, services act."""

from __future__ import annotations

import json
import mimetypes
import re
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser

from gateway.api import OwnerApiView
from gateway.errors import envelope
from gateway.fields import StrictCharField
from gateway.parsers import JSONParser
from sessions_app import selectors, services
from sessions_app.api.serializers import (
    MESSAGE_TYPES,
    ContactCheckOutput,
    ContactInput,
    HistoryMessageOutput,
    LocationInput,
    MediaInput,
    MessageOutput,
    MessageSendInput,
    MessageUploadInput,
    QrOutput,
    RecipientField,
    SandboxScanInput,
    SessionConnectInput,
    SessionCreateInput,
    SessionOutput,
    SessionStatusOutput,
    vcard_of,
)
from sessions_app.errors import InvalidIdempotencyKey, KeyBoundToSession
from sessions_app.media import MEDIA_LIMITS, MEDIA_TYPES, MediaSource, media_descriptor, media_store

TAG_SESSIONS = ["sessions"]
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,100}")


def idempotency_key_from(request: Any) -> str | None:
    """Return the request's `Idempotency-Key` header, or None when there is none.

    Raises InvalidIdempotencyKey for a header that is present but empty (a client whose key
    variable was unset would otherwise lose its protection against double sends silently) or
    not 1-100 printable ASCII characters.
    """
    value = request.headers.get("Idempotency-Key")
    if value is None:
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
    type = serializers.ChoiceField(choices=MESSAGE_TYPES, default="text")
    text = StrictCharField(max_length=4096, required=False, trim_whitespace=False)
    media = MediaInput(required=False)
    location = LocationInput(required=False)
    contact = ContactInput(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        type_ = attrs["type"]
        if type_ == "text" and not attrs.get("text"):
            raise serializers.ValidationError({"text": ["Required for type text."]})
        if type_ in MEDIA_TYPES and "media" not in attrs:
            raise serializers.ValidationError({"media": [f"Required for type {type_}."]})
        if type_ in ("location", "contact") and type_ not in attrs:
            raise serializers.ValidationError({type_: [f"Required for type {type_}."]})
        return attrs

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
        params = dict(data.validated_data)
        if params["type"] in MEDIA_TYPES:
            # The sandbox contact's file is stored as a received file, as a node would upload it.
            media = media_store(
                owner=self.owner,
                session=session,
                type_=params["type"],
                source=MediaSource(**params.pop("media")),
                direction="in",
            )
            params["media"] = media_descriptor(media)
        if params["type"] == "contact" and not params["contact"].get("vcard"):
            contact = params["contact"]
            contact["vcard"] = vcard_of(contact["name"], contact["phone"])
        services.sandbox_action(owner=self.owner, session=session, action="incoming", params=params)
        return envelope({"sessionId": session.id, "accepted": True}, status=202)


class SandboxPhoneActionApi(SessionApiView):
    """`logout` (the phone removes the linked device) or `disconnect` (the connection drops)."""

    action = ""

    @extend_schema(tags=TAG_SANDBOX, request=None, responses={202: None})
    def post(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        services.sandbox_action(owner=self.owner, session=session, action=self.action, params={})
        return envelope({"sessionId": session.id, "accepted": True}, status=202)


_EX_SESSION = "ses_abc123"
_EX_TO = "+62 812-0000-0001"


def _send_example(title: str, **fields: Any) -> OpenApiExample:
    """Return a request example of POST /api/v1/messages with `fields` after sessionId and to."""
    return OpenApiExample(
        title, value={"sessionId": _EX_SESSION, "to": _EX_TO, **fields}, request_only=True
    )


SEND_EXAMPLES = [
    _send_example("text", type="text", text="Halo 👋"),
    _send_example(
        "image (URL, with caption)",
        type="image",
        media={"url": "https://example.com/cat.jpg"},
        text="A cat",
    ),
    _send_example("video", type="video", media={"url": "https://example.com/clip.mp4"}),
    _send_example("audio", type="audio", media={"url": "https://example.com/song.mp3"}),
    _send_example(
        "voice note (OGG/Opus, base64)",
        type="voice",
        media={"base64": "data:audio/ogg;base64,T2dnUwACAAAAAAAAAAA…"},
    ),
    _send_example(
        "document (base64, with file name)",
        type="document",
        media={
            "base64": "JVBERi0xLjQK…",
            "mimetype": "application/pdf",
            "filename": "Faktur März.pdf",
        },
        text="Your invoice",
    ),
    _send_example(
        "sticker (WebP)", type="sticker", media={"url": "https://example.com/sticker.webp"}
    ),
    _send_example(
        "location",
        type="location",
        location={
            "latitude": -6.1754,
            "longitude": 106.8272,
            "name": "Monas",
            "address": "Jakarta",
        },
    ),
    _send_example(
        "contact", type="contact", contact={"name": "Budi", "phone": "+62 812-0000-0002"}
    ),
    _send_example("reaction", type="reaction", reaction={"messageId": "3EB0C0FFEE", "emoji": "👍"}),
    _send_example(
        "reply with mentions (group)",
        type="text",
        text="@6281200000001 see above",
        replyTo="3EB0C0FFEE",
        mentions=["+62 812-0000-0001"],
    ),
]


def _form_to_dict(request: Any) -> tuple[dict[str, Any], Any]:
    """Return a multipart form as the JSON send body, and its `file` upload (or None)."""
    data = request.data
    upload = request.FILES.get("file")
    if not hasattr(data, "getlist"):  # JSON
        return data, None
    body: dict[str, Any] = {}
    for key in data:
        if key in ("file", "mimetype", "filename"):
            continue
        if key == "mentions":
            body[key] = data.getlist(key)
            continue
        value = data.get(key)
        if key in ("location", "contact", "reaction", "media") and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass  # the serializer reports it as not an object
        body[key] = value
    if upload is not None:
        # The upload's own name and type, unless the form names them.
        media_options = {k: data.get(k) for k in ("mimetype", "filename") if data.get(k)}
        body.setdefault("_upload", media_options)
    return body, upload


def build_payload(*, owner: Any, session: Any, values: dict[str, Any], upload: Any) -> dict:
    """Return the node's payload of a validated send body, storing its media first.

    Media come as `media{id, mimetype, filename, size, sha256}`; `mentions` as E.164 digits;
    a contact as `{name, vcard}`. Raises the media errors of `sessions_app.media`.
    """
    type_ = values["type"]
    payload: dict[str, Any] = {"type": type_}
    if "text" in values:
        payload["text"] = values["text"]
    if values.get("replyTo"):
        payload["replyTo"] = values["replyTo"]
    if values.get("mentions"):
        payload["mentions"] = [m.to for m in values["mentions"]]
    if type_ in MEDIA_TYPES:
        given = values.get("media") or {}
        options = values.get("_upload") or {}
        source = MediaSource(
            url=given.get("url"),
            base64=given.get("base64"),
            upload=upload,
            mimetype=given.get("mimetype") or options.get("mimetype"),
            filename=given.get("filename") or options.get("filename"),
        )
        media = media_store(owner=owner, session=session, type_=type_, source=source)
        payload["media"] = media_descriptor(media)
        if type_ == "document" and not media.filename:
            extension = mimetypes.guess_extension(media.mimetype) or ""
            payload["media"]["filename"] = f"document{extension}"
    elif type_ == "location":
        payload["location"] = {k: v for k, v in values["location"].items() if v not in (None, "")}
    elif type_ == "contact":
        contact = values["contact"]
        vcard = contact.get("vcard") or vcard_of(contact["name"], contact["phone"])
        payload["contact"] = {"name": contact["name"], "vcard": vcard}
    elif type_ == "reaction":
        payload["reaction"] = dict(values["reaction"])
    return payload


class MessageSendApi(OwnerApiView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        tags=TAG_MESSAGES,
        request={"application/json": MessageSendInput, "multipart/form-data": MessageUploadInput},
        responses={202: MessageOutput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="A repeat with the same key and body returns the first message.",
            )
        ],
        examples=SEND_EXAMPLES,
        summary="Send a message of any type",
        description=(
            "Types: text, image, video, audio, voice (OGG/Opus voice note), document, sticker "
            "(WebP), location, contact, reaction; `replyTo` and `mentions` on any type. Media by "
            "`media.url`, `media.base64` (with or without a `data:` prefix) or a multipart "
            "`file`. Limits (bytes): "
            + ", ".join(f"{k} {v}" for k, v in MEDIA_LIMITS.items())
            + " (413 `media_too_large`); content that does not fit the type is 422 "
            "`media_type_mismatch`; a URL that fails is 422 `media_download_failed` or "
            "`media_download_timeout`; a private or loopback URL is 400 `unsafe_url`."
        ),
    )
    def post(self, request: Any) -> Any:
        body, upload = _form_to_dict(request)
        data = MessageSendInput(data=body, upload=upload)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if upload is not None:
            values["_upload"] = body.get("_upload") or {}
        session_id = values.get("sessionId") or getattr(self.api_key, "session_id", None)
        if not session_id:
            raise serializers.ValidationError({"sessionId": ["This field is required."]})
        session = selectors.session_get(
            owner=self.owner, session_id=session_id, api_key=self.api_key
        )
        idempotency_key = idempotency_key_from(request)
        payload = build_payload(owner=self.owner, session=session, values=values, upload=upload)
        message, _created = services.message_send(
            owner=self.owner,
            session=session,
            api_key=self.api_key,
            to=values["to"].to,
            chat_jid=values["to"].chat_jid,
            payload=payload,
            idempotency_key=idempotency_key,
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
        parameters=[
            OpenApiParameter("since", int, description="`cursor` of the last message seen"),
            OpenApiParameter("limit", int, description="1–200, default 50"),
        ],
        responses=HistoryMessageOutput(many=True),
        summary="History of a session in both directions (from its node), oldest first",
        description="Asks the session's node; 504 `node_timeout` when it does not answer.",
    )
    def get(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = selectors.message_history(
            owner=self.owner,
            session=session,
            since=query.validated_data["since"],
            limit=query.validated_data["limit"],
        )
        return envelope(messages)


class HistoryQuery(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)  # SQLite INTEGER
    limit = serializers.IntegerField(min_value=1, max_value=selectors.HISTORY_LIMIT_MAX, default=50)


class ContactCheckQuery(serializers.Serializer):
    phone = RecipientField()


class ContactCheckApi(SessionApiView):
    @extend_schema(
        tags=TAG_MESSAGES,
        parameters=[OpenApiParameter("phone", str, required=True, description="Any common form")],
        responses=ContactCheckOutput,
        summary="Tell whether a number is on WhatsApp, and its JID",
    )
    def get(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        query = ContactCheckQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        recipient = query.validated_data["phone"]
        if not recipient.chat_jid.endswith("@s.whatsapp.net"):
            raise serializers.ValidationError(
                {"phone": ["Give a phone number, not a group or LID JID."]}
            )
        answer = selectors.contact_check(owner=self.owner, session=session, phone=recipient.to)
        return envelope(answer)


class MediaDownloadApi(OwnerApiView):
    @extend_schema(
        tags=TAG_MESSAGES,
        responses={(200, "application/octet-stream"): bytes},
        summary="Download a media file (sent or received) of yours",
    )
    def get(self, request: Any, media_id: str) -> Any:
        media = selectors.media_get(owner=self.owner, media_id=media_id)
        return media_file_response(media)


def media_file_response(media: Any) -> FileResponse:
    """Stream a MediaFile from storage with its mimetype and exact (RFC 6266) file name."""
    handle = default_storage.open(media.storage_name, "rb")
    return FileResponse(
        handle,
        content_type=media.mimetype,
        as_attachment=True,
        filename=media.filename or media.id,
    )
