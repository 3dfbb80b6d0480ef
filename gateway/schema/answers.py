"""The error answers of every operation, with their stable codes (gateway.errors and each app's
errors.py).

Generic ones follow from the route: 400 where it takes a body or query parameters, 401 for
credentials, 403 for operators' and nodes' rights and CSRF, 404 for ids in the path, 413/415 for
bodies, 429 for the plan's rates. What only a view knows it declares with `error_answers()` in
its `extend_schema`; this hook adds the generic codes to those, and the ErrorEnvelope body.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiResponse

from gateway.schema.envelope import error_content

_STRING = {"schema": {"type": "string"}}
# components.headers, referred to from each answer.
HEADERS = {
    "Retry-After": {**_STRING, "description": "Seconds to wait."},
    "RateLimit-Policy": {
        **_STRING,
        "description": 'Policies counted, e.g. `"api";q=120;w=60` (draft-ietf-httpapi-ratelimit-'
        "headers-10); absent when the plan sets no rate.",
    },
    "RateLimit": {**_STRING, "description": 'What is left, e.g. `"api";r=117;t=42`.'},
}
RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
RATE_HEADERS = {
    name: {"$ref": f"#/components/headers/{name}"} for name in ("RateLimit-Policy", "RateLimit")
}
# Creating these counts against a plan's cap (403 plan_limit_reached).
CAPPED = {"/api/v1/sessions": "sessions", "/api/v1/webhooks": "webhook endpoints"}
# The code of "not found" for each id in a path (another tenant's object is not found too).
NOT_FOUND = {
    "session_id": "session_not_found",
    "message_id": "message_not_found",
    "media_id": "media_not_found",
    "webhook_id": "webhook_not_found",
    "delivery_id": "webhook_delivery_not_found",
    "worker_id": "worker_not_found",
}
TOO_MANY = (
    "`rate_limited` (the plan's API requests per minute per key, number checks per minute per "
    "session, or wrong keys from this address) or `quota_exceeded` (messages per day or month; "
    "`fields.period`, `fields.resetsAt`) or `new_number_daily_cap` (a freshly linked number's "
    "daily cap of the session's pacing; `fields.limit`, `fields.resetsAt`). Nothing was written."
)


def error_answers(answers: dict[int, str]) -> dict[int, OpenApiResponse]:
    """Return `extend_schema(responses=…)` entries for a view's own error answers, each a text
    naming its codes; the schema hook adds the generic codes and the ErrorEnvelope body."""
    return {status: OpenApiResponse(description=text) for status, text in answers.items()}


def _add(responses: dict[str, Any], status: int, text: str, **extra: Any) -> None:
    answer = responses.setdefault(str(status), {"description": ""})
    described = answer.get("description", "")
    for code in re.findall(r"`([a-z_]+)`", text)[:1]:
        if f"`{code}`" in described:
            return
    answer["description"] = f"{described} {text}".strip() if described else text
    for key, value in extra.items():
        answer.setdefault(key, {}).update(value)


def document_errors(path: str, method: str, operation: dict[str, Any], who: str) -> None:
    """Add the generic error answers of `operation` (`who`: tenant, operator or node)."""
    responses = operation.setdefault("responses", {})
    body = "requestBody" in operation
    query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if body or query:
        text = "`validation_error`: `fields` names each refused field and why."
        if body and "application/json" in operation["requestBody"].get("content", {}):
            text += " `invalid_json`: the body is not JSON (or nests too deep)."
        if body and "multipart/form-data" in operation["requestBody"].get("content", {}):
            text += " `too_many_parts`: more form fields or files than the API takes."
        _add(responses, 400, text)
    if who == "node":
        _add(responses, 401, "`unauthorized`: no node token, or a wrong one.")
    else:
        _add(
            responses,
            401,
            "`unauthorized` (no key, a wrong or revoked one) or `account_suspended`.",
        )
    if who == "operator":
        _add(
            responses,
            403,
            "`forbidden`: not an operator (staff), or an API key bound to one session.",
        )
    if who != "node" and method in ("post", "put", "patch", "delete"):
        _add(responses, 403, "`forbidden`: a dashboard-cookie request without its CSRF token.")
    if who != "node" and method == "post" and path in CAPPED:
        _add(
            responses,
            403,
            f"`plan_limit_reached`: the plan's {CAPPED[path]} are all used "
            "(or it leaves out the engine); `engine_disabled`: the engine is off on this "
            "gateway.",
        )
    ids = re.findall(r"{(\w+)}", path)
    if ids:
        codes = ", ".join(f"`{NOT_FOUND[name]}`" for name in ids if name in NOT_FOUND)
        _add(
            responses,
            404,
            f"{codes}: no such object of yours (another tenant's is not "
            "found either); `not_found`: a malformed id.",
        )
    if body:
        _add(
            responses,
            413,
            "`payload_too_large`: the body is over the route's cap "
            "(API_MAX_BODY_BYTES, or the largest file for an upload).",
        )
        _add(
            responses,
            415,
            "`unsupported_media_type`: a body of another Content-Type than documented.",
        )
    if who != "node":
        _add(responses, 429, TOO_MANY, headers=RETRY_AFTER)
        for answer in responses.values():
            answer.setdefault("headers", {}).update(RATE_HEADERS)
    for status, answer in responses.items():
        if not str(status).startswith(("2", "3")):
            error_content(answer)
