"""Admin pages for the delivery ledger (read only: the API writes it)."""

from django.contrib import admin

from gateway.admin import ReadOnlyAdmin
from sessions_app.messages.models import OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "session", "owner", "to", "type", "status", "error_code", "created_at")
    list_filter = ("status", "type", "error_code", "created_at")
    search_fields = ("id", "to", "chat_jid", "wa_message_id", "owner__email", "session__id")
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]
    date_hierarchy = "created_at"
