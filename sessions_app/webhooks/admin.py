"""Admin pages for webhook endpoints and their delivery log (secrets are never shown).

Read only: a URL typed in here would skip the URL safety check, and enabling or disabling goes
through the actions, which do what the API does (pending deliveries end with a disable).
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from gateway.admin import ReadOnlyAdmin
from sessions_app.webhooks.endpoints import endpoint_disable, endpoint_update
from sessions_app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def _all_fields_but(model: type, *hidden: str) -> list[str]:
    return [f.name for f in model._meta.fields if f.name not in hidden]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "session", "url", "enabled", "disabled_reason", "created_at")
    list_filter = ("enabled",)
    search_fields = ("id", "url", "owner__email")
    exclude = ("secret", "previous_secret")
    readonly_fields = _all_fields_but(WebhookEndpoint, "secret", "previous_secret")
    actions = ["disable", "enable"]

    @admin.action(description="Disable selected webhooks (their pending deliveries end)")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint_disable(endpoint=endpoint, reason="Disabled by an operator.")
        self.message_user(request, f"{queryset.count()} webhooks disabled.")

    @admin.action(description="Enable selected webhooks")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint_update(owner=endpoint.owner, endpoint=endpoint, enabled=True)
        self.message_user(request, f"{queryset.count()} webhooks enabled.")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = _all_fields_but(WebhookAttempt, "id", "delivery")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "endpoint", "event", "status", "attempt_count", "next_attempt_at")
    list_filter = ("status",)
    search_fields = ("id", "event__id", "endpoint__id")
    readonly_fields = _all_fields_but(WebhookDelivery)
    inlines = [WebhookAttemptInline]
