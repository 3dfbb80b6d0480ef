"""Request parsing that turns every malformed body into a 400, never a 500."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a fixed message and deep nesting refused.

    Python's decoder raises RecursionError on deeply nested input (e.g. 100,000 `[`), which
    DRF does not catch; its own messages also echo interpreter details. Both become a plain
    400 `invalid_json`.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except (ParseError, RecursionError, ValueError) as exc:
            raise ParseError("Request body is not valid JSON.") from exc
