"""Public API for messages (`/api/v1/messages…`, a session's history and number checks).

Thin: serializers validate, services act.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser

from billing.errors import RateLimited
from gateway.api import OwnerApiView
from gateway.errors import envelope
from gateway.parsers import JSONParser, json_loads
from gateway.schema import error_answers
from sessions_app.errors import InvalidIdempotencyKey, SessionNotConnected
from sessions_app.media.content import MEDIA_LIMITS, media_limit
from sessions_app.messages import selectors, services
from sessions_app.messages.api.serializers import (
    ContactCheckOutput,
    ContactCheckQuery,
    HistoryMessageOutput,
    HistoryQuery,
    MessageOutput,
    MessageSendInput,
    MessageUploadInput,
)
from sessions_app.messages.selectors import HISTORY_LIMIT_MAX
from sessions_app.sessions.api.views import SessionApiView
from sessions_app.sessions.selectors import session_get

TAG_MESSAGES = ["messages"]
_CURSOR = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}  # HistoryQuery's bounds
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,100}")
# Form fields of a multipart send that hold JSON objects.
_JSON_FORM_FIELDS = ("location", "contact", "reaction", "media")


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
    _send_example("edit", type="edit", edit={"messageId": "3EB0C0FFEE"}, text="Open until 9"),
    _send_example("revoke", type="revoke", revoke={"messageId": "3EB0C0FFEE"}),
    _send_example(
        "poll",
        type="poll",
        poll={"name": "Lunch?", "options": ["Nasi goreng", "Soto"], "selectableCount": 1},
    ),
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
        if key in _JSON_FORM_FIELDS and isinstance(value, str):
            try:
                value = json_loads(value)  # too deeply nested: 400 invalid_json
            except ValueError:
                pass  # the serializer reports it as not an object
        body[key] = value
    if upload is not None:
        # The upload's own name and type, unless the form names them.
        media_options = {k: data.get(k) for k in ("mimetype", "filename") if data.get(k)}
        body.setdefault("_upload", media_options)
    return body, upload


class MessageSendApi(OwnerApiView):
    parser_classes = [JSONParser, MultiPartParser]

    @staticmethod
    def max_upload_bytes() -> int:
        """The largest file a multipart send takes (gateway.bodylimits caps the body by it)."""
        return max(media_limit(type_) for type_ in MEDIA_LIMITS)

    @extend_schema(
        tags=TAG_MESSAGES,
        request={"application/json": MessageSendInput, "multipart/form-data": MessageUploadInput},
        responses={
            202: MessageOutput,
            **error_answers(
                {
                    400: "`invalid_recipient` (`to`, with the reason word), `text_required`, "
                    "`text_too_long`, `invalid_media`, `unsafe_url` (a media URL) or "
                    "`invalid_idempotency_key` (an empty or non-ASCII Idempotency-Key).",
                    404: "`session_not_found` (`sessionId`).",
                    409: "`session_not_connected`.",
                    413: "`media_too_large`.",
                    422: "`idempotency_key_mismatch` (the key was used with another body), "
                    "`media_type_mismatch`, `media_download_failed` or "
                    "`media_download_timeout`.",
                }
            ),
        },
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
        session = session_get(owner=self.owner, session_id=session_id, api_key=self.api_key)
        message, _created = services.message_submit(
            owner=self.owner,
            session=session,
            api_key=self.api_key,
            values=values,
            upload=upload,
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
        parameters=[
            OpenApiParameter("since", _CURSOR, description="`cursor` of the last message seen"),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": HISTORY_LIMIT_MAX},
                description=f"1–{HISTORY_LIMIT_MAX}, default 50",
            ),
            OpenApiParameter("before", _CURSOR, description="only messages with a lower `cursor`"),
            OpenApiParameter("order", str, enum=["asc", "desc"], description="desc: newest first"),
            OpenApiParameter("direction", str, enum=["in", "out"], description="default: both"),
            OpenApiParameter(
                "q",
                {"type": "string", "maxLength": 100, "pattern": r"\S"},  # trimmed, not blank
                description="part of the text or caption, chat or sender",
            ),
        ],
        responses={
            200: HistoryMessageOutput(many=True),
            **error_answers(
                {
                    409: "`session_has_no_node`: the session never ran on a node.",
                    502: "`node_error`: the node answered with an error.",
                    504: "`node_timeout`: the node did not answer in time.",
                }
            ),
        },
        summary="History of a session in both directions (from its node), oldest first",
        description="Asks the session's node; 504 `node_timeout` when it does not answer.",
    )
    def get(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = selectors.message_history(owner=self.owner, session=session, **query.page())
        return envelope(messages)


class ContactCheckApi(SessionApiView):
    @extend_schema(
        tags=TAG_MESSAGES,
        parameters=[OpenApiParameter("phone", str, required=True, description="Any common form")],
        responses={
            200: ContactCheckOutput,
            **error_answers(
                {
                    400: "`invalid_recipient`: `phone` is not a phone number.",
                    409: "`session_not_connected`.",
                    502: "`node_error`: the node answered with an error.",
                    504: "`node_timeout`: the node did not answer in time.",
                }
            ),
        },
        summary="Tell whether a number is on WhatsApp, and its JID",
        description=(
            "Counted against the plan's number checks per minute for the session: past it, 429 "
            "`rate_limited` with Retry-After (checking numbers at speed is how WhatsApp "
            "accounts get banned)."
        ),
    )
    def get(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        query = ContactCheckQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        if not session.sendable:
            raise SessionNotConnected()  # before it is counted: no check can happen
        policy = {
            "limit": self.limits.number_checks_per_minute,
            "identity": f"session:{session.id}",
        }
        self.rate_count("checks", what="Number checks of this session", **policy)
        try:
            answer = services.number_check(
                owner=self.owner,
                session=session,
                api_key=self.api_key,
                phone=query.validated_data["phone"],
            )
        except RateLimited as refused:  # the node's spacing: nothing was checked
            self.rate_uncount("checks", retry_after_s=refused.retry_after_s, **policy)
            raise
        return envelope(answer)
