from django.contrib import admin

from sessions_app.models import OutboundMessage, Session


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "owner",
        "engine",
        "status",
        "status_reason",
        "phone_number",
        "worker",
        "last_seen_at",
        "created_at",
    )
    list_filter = ("status", "engine", "worker")
    search_fields = ("id", "name", "phone_number", "owner__email")
    readonly_fields = (
        "id",
        "qr_string",
        "qr_expires_at",
        "credential_store",
        "created_at",
        "updated_at",
    )
    exclude = ("qr_code",)
    raw_id_fields = ("owner",)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "session", "owner", "to", "type", "status", "error_code", "created_at")
    list_filter = ("status", "type", "error_code", "created_at")
    search_fields = ("id", "to", "chat_jid", "wa_message_id", "owner__email", "session__id")
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]
    date_hierarchy = "created_at"


import sessions_app.webhooks.admin  # noqa: E402, F401  (registers the webhook models)
