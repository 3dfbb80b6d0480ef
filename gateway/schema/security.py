"""Who may call what: the security schemes and each operation's `security`.

Tenant and operator routes take an API key (`Authorization: Bearer wag_…` or `X-API-Key`) or
the dashboard's session cookie; node routes (tag "node reports") take the node token only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

NODE_TAG = "node reports"
OPERATOR_TAG = "nodes"


def security_schemes() -> dict[str, Any]:
    return {
        "ApiKey": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "wag_…",
            "description": "An API key, `Authorization: Bearer wag_…`.",
        },
        "ApiKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "The same API key in `X-API-Key` (it wins over `Authorization`).",
        },
        "cookieAuth": {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The dashboard's login. POST, PUT, PATCH and DELETE also need the "
            "CSRF token (`X-CSRFToken`), or they are 403 `forbidden`.",
        },
        "nodeToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "Node agents only: the node's own credential or the shared "
            "WORKER_AUTH_TOKEN.",
        },
    }


USER = [{"ApiKey": []}, {"ApiKeyHeader": []}, {"cookieAuth": []}]
NODE = [{"nodeToken": []}]


def kind(operation: dict[str, Any]) -> str:
    """ "node", "operator" or "tenant", by the operation's tag."""
    tags = operation.get("tags", [])
    if NODE_TAG in tags:
        return "node"
    if OPERATOR_TAG in tags:
        return "operator"
    return "tenant"


def document_security(operation: dict[str, Any]) -> None:
    """Set `security` by who calls the operation; one that also opens without credentials
    (e.g. a media link's token) keeps an empty alternative."""
    optional = {} in operation.get("security", [])
    operation["security"] = list(NODE if kind(operation) == "node" else USER)
    if optional:
        operation["security"].append({})
