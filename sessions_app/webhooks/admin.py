"""Admin pages for webhook endpoints and their delivery log (secrets are never shown)."""

from django.contrib import admin

from sessions_app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "session", "url", "enabled", "disabled_reason", "created_at")
    list_filter = ("enabled",)
    search_fields = ("id", "url", "owner__email")
    exclude = ("secret", "previous_secret")
    readonly_fields = ("id", "url_normalized", "created_at", "updated_at")
    raw_id_fields = ("owner", "session")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = (
        "number",
        "trigger",
        "started_at",
        "duration_ms",
        "status_code",
        "success",
        "error",
        "response_snippet",
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "endpoint", "event", "status", "attempt_count", "next_attempt_at")
    list_filter = ("status",)
    search_fields = ("id", "event__id", "endpoint__id")
    raw_id_fields = ("endpoint", "event")
    inlines = [WebhookAttemptInline]
