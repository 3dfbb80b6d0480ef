"""The app's models, for Django's registry; each lives in its sub-package."""

from sessions_app.media.models import MediaFile
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from sessions_app.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "MediaFile",
    "OutboundMessage",
    "Session",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
