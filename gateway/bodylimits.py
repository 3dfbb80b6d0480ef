"""Request body caps, checked before anything reads the body (the first middleware).

Django caps form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but streams every multipart file part to
a temporary file whatever its size, and the CSRF check reads a POST form before any view runs:
an anonymous client could make any page spool hundreds of megabytes to disk. So each request's
Content-Length is checked against its route's cap first and a larger body is refused with 413
unread (`payload_too_large` under /api/, a plain page elsewhere).

The cap is API_MAX_BODY_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE), except for a multipart body to a
view that takes uploads: such a view declares `max_upload_bytes()` (its largest file) and gets
that plus MULTIPART_OVERHEAD_BYTES for the form's other fields and framing.

A chunked body (no Content-Length; gunicorn decodes it and marks `wsgi.input_terminated`) is
read here up to the cap, into a spooled file, and refused once it crosses the cap; under it,
the request goes on with that body and its now known length (Django reads no body without one).
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from gateway.errors import PayloadTooLarge, error_body

MULTIPART_OVERHEAD_BYTES = 1024 * 1024
_READ_BYTES = 64 * 1024
_IN_MEMORY_BYTES = 1024 * 1024


def body_limit(request: Any) -> int | None:
    """Return the largest body `request`'s route takes, in bytes (None: no cap)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if not request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/"):
        return limit
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return limit
    upload_bytes = getattr(getattr(view, "view_class", view), "max_upload_bytes", None)
    if upload_bytes is None:
        return limit
    return max(limit or 0, upload_bytes() + MULTIPART_OVERHEAD_BYTES)


def too_large(request: Any, limit: int) -> HttpResponse:
    """Return the 413 for a body over `limit` bytes: the envelope under /api/, else plain text."""
    message = f"The request body is larger than this route takes ({limit} bytes)."
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(PayloadTooLarge.code, message), status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


def _is_chunked(request: Any) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and bool(
        request.META.get("wsgi.input_terminated")
    )


def _read_chunked(request: Any, limit: int | None) -> Any:
    """Read a chunked body into a spooled file; return it, or None once it crosses `limit`."""
    spool = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BYTES)
    size = 0
    source = request.META["wsgi.input"]
    while chunk := source.read(_READ_BYTES):
        size += len(chunk)
        if limit is not None and size > limit:
            spool.close()
            return None
        spool.write(chunk)
    spool.seek(0)
    request.META["CONTENT_LENGTH"] = str(size)
    request._stream = LimitedStream(spool, size)
    return spool


class BodyLimitMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        limit = body_limit(request)
        length = request.META.get("CONTENT_LENGTH")
        if length:
            if limit is not None and length.isdigit() and int(length) > limit:
                return too_large(request, limit)
            return self.get_response(request)
        if not _is_chunked(request):
            return self.get_response(request)
        spool = _read_chunked(request, limit)
        if spool is None:
            return too_large(request, limit or 0)
        try:
            return self.get_response(request)
        finally:
            spool.close()
