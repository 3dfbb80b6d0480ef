from django.contrib import admin

from billing.models import UsageRecord


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    # Ids, not the objects: a usage row keeps the id of a session or key deleted since.
    list_display = ("billing_date", "user", "session_id", "api_key_id", "kind", "count")
    list_filter = ("kind", "billing_date", "user__tier")
    search_fields = ("user__email", "session__id", "session__name", "api_key__prefix")
    date_hierarchy = "billing_date"
    readonly_fields = ("user", "session_id", "api_key_id", "kind", "billing_date", "count")
    exclude = ("session", "api_key")

    def has_add_permission(self, request):  # usage is counted, never typed in
        return False
