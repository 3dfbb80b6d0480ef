"""Admin pages for sessions."""

from django.contrib import admin

from sessions_app.sessions.models import Session


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
        "session_store",
        "created_at",
        "updated_at",
    )
    exclude = ("qr_code",)
    raw_id_fields = ("owner",)
