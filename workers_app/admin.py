from django.contrib import admin

from workers_app.models import Worker
from workers_app.services import worker_drain


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "session_count",
        "max_sessions",
        "active_connections",
        "cpu_usage",
        "memory_usage",
        "engines",
        "version",
        "last_heartbeat",
    )
    list_filter = ("status",)
    search_fields = ("id", "endpoint")
    readonly_fields = ("registered_at", "last_heartbeat")
    actions = ["drain"]

    @admin.action(description="Drain selected nodes (take no new sessions)")
    def drain(self, request, queryset):
        for worker in queryset:
            worker_drain(worker_id=worker.id)
