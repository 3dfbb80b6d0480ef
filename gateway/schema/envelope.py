"""The two envelopes in the schema: every JSON success answer is `{success: true, data}`, every
failure the ErrorEnvelope (gateway.errors)."""

from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Stable snake_case code."},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "`validation_error`: each refused field with its messages.",
                },
            },
        },
    },
}
JSON = "application/json"


def success(data: dict[str, Any]) -> dict[str, Any]:
    """Return the success envelope's schema around `data`'s schema ({} when untyped)."""
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"type": "boolean", "enum": [True]}, "data": data},
    }


def wrap_success(operation: dict[str, Any]) -> None:
    """Put each 2xx JSON answer of `operation` in the success envelope; an answer declared
    without a body gets the envelope with an untyped `data`. Files (other media types) stay."""
    for status, answer in operation.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        content = answer.setdefault("content", {})
        if not content:
            content[JSON] = {"schema": success({})}
            if answer.get("description") == "No response body":
                answer["description"] = ""
        elif JSON in content:
            content[JSON]["schema"] = success(content[JSON].get("schema", {}))


def error_content(answer: dict[str, Any]) -> None:
    """Give an error answer declared without a body the ErrorEnvelope."""
    if not answer.get("content"):
        answer["content"] = {JSON: {"schema": ERROR_REF}}
