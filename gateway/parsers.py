"""Request parsing that turns every malformed or oversized body into a 4xx, never a 500."""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from gateway.errors import PayloadTooLarge


def json_depth_check(value: Any, *, text: bytes | str | None = None) -> None:
    """Raise ParseError (400 `invalid_json`) if `value` nests deeper than API_MAX_JSON_DEPTH.

    Walks the parsed value without recursion; `text`, the JSON it came from, lets a body with
    fewer brackets than the limit (nearly every one) skip the walk.
    """
    limit = settings.API_MAX_JSON_DEPTH
    if text is not None:
        opening = (b"[", b"{") if isinstance(text, bytes) else ("[", "{")
        if text.count(opening[0]) + text.count(opening[1]) <= limit:
            return
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            raise ParseError(f"JSON may be nested at most {limit} levels deep.")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def json_loads(text: bytes | str) -> Any:
    """Return `json.loads(text)` with its nesting bounded (see `json_depth_check`).

    Raises ValueError for text that is not JSON, ParseError for JSON nested too deep (Python's
    decoder raises RecursionError near a thousand levels).
    """
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise ParseError(
            f"JSON may be nested at most {settings.API_MAX_JSON_DEPTH} levels deep."
        ) from exc
    if isinstance(value, dict | list):
        json_depth_check(value, text=text)
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a size cap, a fixed message and deep nesting refused.

    A body over API_MAX_BODY_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE) is 413 `payload_too_large`:
    refused by its Content-Length before anything is read, or once that many bytes came (a
    chunked body); DRF reads the stream itself, so Django's own cap never applied to it.
    Python's decoder raises RecursionError on deeply nested input (e.g. 100,000 `[`), which
    DRF does not catch; its own messages also echo interpreter details. Both become a plain
    400 `invalid_json`, and so does JSON nested deeper than API_MAX_JSON_DEPTH.
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
            data = super().parse(stream, media_type, parser_context)
        except (ParseError, RecursionError, ValueError) as exc:
            raise ParseError("Request body is not valid JSON.") from exc
        if isinstance(data, dict | list):
            text = stream.getvalue() if isinstance(stream, io.BytesIO) else None
            json_depth_check(data, text=text)
        return data
