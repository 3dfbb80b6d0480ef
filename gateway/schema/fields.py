"""Request-field hints drf-spectacular leaves out, so the schema refuses what the serializers
refuse: no NUL in text (DRF refuses it), a trimmed required text needs a non-space character,
an optional RegexField also takes "", a list that may not be empty has `minItems`, an upload may
not be empty. Registered by GatewayConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

NO_NUL = r"^[^\u0000]*$"
NOT_BLANK = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"


def _regex(field: Any) -> str | None:
    """The field's RegexValidator pattern in ECMA form, as drf-spectacular writes it."""
    for validator in field.validators:
        if isinstance(validator, RegexValidator):
            pattern = validator.regex.pattern.encode("ascii", "backslashreplace").decode()
            return pattern.replace(r"\x", r"\u00").replace(r"\Z", "$").replace(r"\A", "^")
    return None


def refine(field: Any, schema: dict[str, Any]) -> None:
    """Add to `schema` (a request field's) what `field` refuses beyond drf-spectacular's hints."""
    if isinstance(field, serializers.FileField):
        if not field.allow_empty_file:
            schema.setdefault("minLength", 1)
    elif isinstance(field, serializers.CharField) and schema.get("type") == "string":
        pattern = schema.get("pattern") or _regex(field)
        if pattern is None:
            blank_ok = field.allow_blank or not field.trim_whitespace
            schema["pattern"] = NO_NUL if blank_ok else NOT_BLANK
        elif field.allow_blank and pattern.startswith("^") and pattern.endswith("$"):
            schema["pattern"] = f"^(?:{pattern[1:-1]})?$"  # "" is taken too
    elif isinstance(field, serializers.ListField | serializers.ListSerializer):
        if not field.allow_empty:
            schema.setdefault("minItems", 1)
        if getattr(field, "max_length", None) is not None:
            schema.setdefault("maxItems", field.max_length)


class FieldHints(OpenApiSerializerFieldExtension):
    """Every serializer field, mapped as drf-spectacular does, then `refine`d (requests only)."""

    target_class = "rest_framework.fields.Field"
    match_subclasses = True
    priority = -10  # any more specific extension first

    def map_serializer_field(self, auto_schema: Any, direction: str) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and isinstance(schema, dict) and "$ref" not in schema:
            refine(self.target, schema)
        return schema
