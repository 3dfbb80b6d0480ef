"""The OpenAPI schema's settings (drf-spectacular): title, tags in their order, enum names."""

SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp Gateway API",
    "DESCRIPTION": (
        "Multi-tenant WhatsApp gateway. Every response is an envelope: "
        '`{"success": true, "data": ...}` or `{"success": false, "error": {"code", "message", '
        '"fields"}}`. Authenticate with `Authorization: Bearer wag_...` or `X-API-Key`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from the vendored sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gateway.schema.postprocess",
    ],
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Users' routes first; the nodes' and the operators' in their own sections at the end.
    "TAGS": [
        {"name": "sessions", "description": "Create, link (QR or pairing code) and run sessions."},
        {"name": "messages", "description": "Send every message type; statuses, history, files."},
        {
            "name": "groups",
            "description": "A session's WhatsApp groups, their members and invites.",
        },
        {"name": "contacts", "description": "The people a session knows, LIDs, its own profile."},
        {"name": "chats", "description": "Chats, read receipts, presence and typing."},
        {"name": "webhooks", "description": "Signed events to your URLs, with a delivery log."},
        {"name": "sandbox", "description": "The simulated phone of sandbox sessions."},
        {"name": "usage", "description": "Messages, number checks and quotas, per period."},
        {"name": "nodes", "description": "Operators (staff): the node registry and its actions."},
        {
            "name": "node reports",
            "description": "Internal: what node agents call with the node token.",
        },
    ],
    "ENUM_NAME_OVERRIDES": {
        "SessionStatusEnum": "sessions_app.sessions.models.Session.Status",
        "SessionEngineEnum": "sessions_app.sessions.models.Session.Engine",
        "MessageStatusEnum": "sessions_app.messages.models.OutboundMessage.Status",
        # Named here so that no two choice sets collide (drf_spectacular.W001, `check --deploy`).
        "MessageTypeEnum": "node_agent.protocol.MESSAGE_TYPES",
        "WorkerStatusEnum": "workers_app.models.Worker.Status",
        "DeliveryStatusEnum": ["sent", "delivered", "read", "failed"],
    },
}
