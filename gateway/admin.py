from django.contrib import admin

from gateway.models import SystemLog


@admin.register(SystemLog)
class SystemLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "level", "event", "message", "user", "session_id", "worker_id")
    list_filter = ("level", "event", "created_at")
    search_fields = ("message", "session_id", "worker_id", "user__email")
    readonly_fields = [f.name for f in SystemLog._meta.fields]
    date_hierarchy = "created_at"
