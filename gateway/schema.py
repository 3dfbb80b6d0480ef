"""OpenAPI additions drf-spectacular cannot infer: the error envelope and the answers of plans
and limits (401, 403 and 429 with their codes and headers) on the tenant API (`/api/v1/`)."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
        },
    },
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_STRING = {"schema": {"type": "string"}}
RATE_HEADERS = {
    "RateLimit-Policy": {
        **_STRING,
        "description": 'Policies counted, e.g. `"api";q=120;w=60` (draft-ietf-httpapi-ratelimit-'
        "headers-10); absent when the plan sets no rate.",
    },
    "RateLimit": {**_STRING, "description": 'What is left, e.g. `"api";r=117;t=42`.'},
}
# Creating these counts against a plan's cap (403 plan_limit_reached).
CAPPED = {"/api/v1/sessions": "sessions", "/api/v1/webhooks": "webhook endpoints"}


def document_limits(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """Add the ErrorEnvelope schema, the RateLimit headers on every tenant answer, and the 401,
    403 and 429 answers with their codes. A drf-spectacular postprocessing hook."""
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorEnvelope"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for answer in responses.values():
                answer.setdefault("headers", {}).update(RATE_HEADERS)
            responses.setdefault(
                "401",
                {
                    "description": "`unauthorized` (no key, a wrong or revoked one) or "
                    "`account_suspended`.",
                    "content": _ERROR,
                },
            )
            responses.setdefault(
                "429",
                {
                    "description": "`rate_limited` (the plan's API requests per minute per key, "
                    "number checks per minute per session, or wrong keys from this address) or "
                    "`quota_exceeded` (messages per day or month; `fields.period`, "
                    "`fields.resetsAt`) or `new_number_daily_cap` (a freshly linked number's "
                    "daily cap of the session's pacing; `fields.limit`, `fields.resetsAt`). "
                    "Nothing was written.",
                    "headers": {"Retry-After": {**_STRING, "description": "Seconds to wait."}},
                    "content": _ERROR,
                },
            )
            if method == "post" and path in CAPPED:
                responses.setdefault(
                    "403",
                    {
                        "description": f"`plan_limit_reached`: the plan's {CAPPED[path]} are "
                        "all used (or it leaves out the engine); `engine_disabled`: the "
                        "engine is off on this gateway.",
                        "content": _ERROR,
                    },
                )
    return result
