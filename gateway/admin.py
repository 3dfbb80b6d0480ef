"""The operators' admin: the product's header, and the system log (read only)."""

from django.contrib import admin

from gateway.models import SystemLog

admin.site.site_header = "WhatsApp Gateway administration"
admin.site.site_title = "WhatsApp Gateway admin"
admin.site.index_title = "Operate the gateway"


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin for rows the gateway writes itself: they can be read and deleted, not added."""

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SystemLog)
class SystemLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "level", "event", "message", "user", "session_id", "worker_id")
    list_filter = ("level", "event", "created_at")
    search_fields = ("message", "session_id", "worker_id", "user__email")
    readonly_fields = [f.name for f in SystemLog._meta.fields]
    date_hierarchy = "created_at"
