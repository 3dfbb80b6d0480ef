"""Errors of the webhook API, with stable codes (rendered by gateway.errors.exception_handler)."""

from __future__ import annotations

from gateway.errors import Conflict, NotFound


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    message = "Webhook not found."


class WebhookDeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    message = "Webhook delivery not found."


class WebhookDisabled(Conflict):
    code = "webhook_disabled"
    message = "Webhook is disabled; enable it before replaying."


class DeliveryInProgress(Conflict):
    code = "delivery_in_progress"
    message = "This delivery is being sent right now."


class ReplayWindowPassed(Conflict):
    code = "replay_window_passed"
    message = "This delivery is too old to replay."
