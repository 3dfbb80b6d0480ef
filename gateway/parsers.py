"""Request parsing that turns every malformed or oversized body into a 4xx, never a 500."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from gateway.errors import PayloadTooLarge


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a size cap, a fixed message and deep nesting refused.

    A body over API_MAX_BODY_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE) is 413 `payload_too_large`:
    refused by its Content-Length before anything is read, or once that many bytes came (a
    chunked body); DRF reads the stream itself, so Django's own cap never applied to it.
    Python's decoder raises RecursionError on deeply nested input (e.g. 100,000 `[`), which
    DRF does not catch; its own messages also echo interpreter details. Both become a plain
    400 `invalid_json`.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            request = (parser_context or {}).get("request")
            length = request.META.get("CONTENT_LENGTH") if request is not None else None
            if length and str(length).isdigit() and int(length) > limit:
                raise PayloadTooLarge()
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge()
            stream = io.BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)
        except (ParseError, RecursionError, ValueError) as exc:
            raise ParseError("Request body is not valid JSON.") from exc
