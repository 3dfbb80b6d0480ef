"""The OpenAPI schema's truths drf-spectacular cannot infer, added by one postprocessing hook:
the success and error envelopes, every error answer with its codes, and who may call each
operation (security). Node routes (tag "node reports") stay in the one schema, in their own
section at the end, with their own `nodeToken` scheme. Field hints live in `fields`."""

from __future__ import annotations

from typing import Any

from gateway.schema.answers import HEADERS, document_errors, error_answers
from gateway.schema.envelope import ERROR_SCHEMA, wrap_success
from gateway.schema.events import webhooks
from gateway.schema.security import document_security, kind, security_schemes

__all__ = ["error_answers", "postprocess"]


def empty_is_absent(operation: dict[str, Any]) -> None:
    """Mark optional query parameters `allowEmptyValue`: DRF reads `?to=` as `to` not sent."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and not parameter.get("required"):
            parameter["allowEmptyValue"] = True


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS)."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["ErrorEnvelope"] = ERROR_SCHEMA
    components["securitySchemes"] = security_schemes()
    components["headers"] = HEADERS
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            wrap_success(operation)
            empty_is_absent(operation)
            document_security(operation)
            document_errors(path, method, operation, kind(operation))
    result["x-webhooks"] = webhooks()  # the events webhooks and the stream carry
    return result
