"""The one response envelope and the errors the API speaks.

Success: `{"success": true, "data": ...}`. Failure: `{"success": false, "error": {"code",
"message", "fields"}}` with a stable snake_case `code`. Domain errors subclass
`GatewayError` and live in their app's `errors.py`; DRF's own errors and Django's 404/500 are
rendered in the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """A domain error with a stable code, a human message and an HTTP status."""

    code = "error"
    message = "Request failed."
    http_status = 400
    headers: dict[str, str] = {}  # response headers it needs (Retry-After, WWW-Authenticate)

    def __init__(
        self, message: str | None = None, *, fields: dict[str, Any] | None = None, **context: Any
    ) -> None:
        self.message = message or self.message
        self.fields = fields or {}
        self.context = context
        super().__init__(self.message)


class NotFound(GatewayError):
    code = "not_found"
    message = "Not found."
    http_status = 404


class Conflict(GatewayError):
    http_status = 409


class ServiceUnavailable(GatewayError):
    http_status = 503


class PayloadTooLarge(GatewayError):
    code = "payload_too_large"
    message = "The request body is larger than this API takes (API_MAX_BODY_BYTES)."
    http_status = 413


def envelope(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Wrap `data` in the success envelope."""
    return Response({"success": True, "data": data}, status=status, headers=headers)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the failure envelope as a dict."""
    return {"success": False, "error": {"code": code, "message": message, "fields": fields or {}}}


_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.ParseError: "invalid_json",
    drf_exceptions.NotAuthenticated: "unauthorized",
    drf_exceptions.AuthenticationFailed: "unauthorized",
    drf_exceptions.PermissionDenied: "forbidden",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render any exception raised in a DRF view as the failure envelope.

    Unexpected exceptions are logged with their traceback and become a 500 `internal` whose
    message says nothing about the cause.
    """
    if isinstance(exc, GatewayError):
        return Response(
            error_body(exc.code, exc.message, exc.fields),
            status=exc.http_status,
            headers=exc.headers or None,
        )
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, RequestDataTooBig):  # a form field past DATA_UPLOAD_MAX_MEMORY_SIZE
        too_large = PayloadTooLarge("A form field is larger than this API takes.")
        return Response(error_body(too_large.code, too_large.message), status=413)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(
            error_body("too_many_parts", "The form has more fields or files than this API takes."),
            status=400,
        )
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("forbidden", "Permission denied."), status=403)
    if isinstance(exc, drf_exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        code, message = _validation_code(exc)
        return Response(error_body(code, message, fields), status=400)
    if isinstance(exc, drf_exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(
            error_body(code, str(exc.detail)), status=exc.status_code, headers=headers or None
        )
    logger.exception(
        "Unhandled error in %s",
        context.get("view").__class__.__name__,
        extra={"request": context.get("request")},
    )
    return Response(error_body("internal", "Internal server error."), status=500)


# Field error codes that name the whole failure (a serializer raises
# `ValidationError(message, code="invalid_recipient")`); other field errors are `validation_error`.
PROMOTED_FIELD_CODES = {"invalid_recipient", "text_required", "text_too_long"}


def _walk_codes(codes: Any, messages: Any) -> Any:
    if isinstance(codes, dict):
        for key, value in codes.items():
            yield from _walk_codes(value, messages.get(key) if isinstance(messages, dict) else None)
    elif isinstance(codes, list):
        for index, value in enumerate(codes):
            item = messages[index] if isinstance(messages, list) and index < len(messages) else None
            yield from _walk_codes(value, item)
    else:
        yield codes, messages


def _validation_code(exc: drf_exceptions.ValidationError) -> tuple[str, str]:
    for code, message in _walk_codes(exc.get_codes(), _flatten(exc.detail)):
        if code in PROMOTED_FIELD_CODES:
            return code, str(message)
    return "validation_error", "Invalid input."


def _wants_json(request: Any) -> bool:
    return request.path.startswith("/api/") or request.path == "/health"


def handler404(request: Any, exception: Exception | None = None) -> HttpResponse:
    """Answer unknown URLs: the failure envelope under /api/, the dashboard's page elsewhere."""
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "No such endpoint."), status=404)
    return render(request, "not_found.html", status=404)


def handler500(request: Any) -> HttpResponse:
    """Answer errors raised outside DRF views: the envelope under /api/, plain text elsewhere."""
    if _wants_json(request):
        return JsonResponse(error_body("internal", "Internal server error."), status=500)
    return HttpResponse("Internal server error.", status=500, content_type="text/plain")
