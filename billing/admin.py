from django.contrib import admin

from billing.models import UsageRecord


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ("billing_date", "user", "session", "api_key", "kind", "count")
    list_filter = ("kind", "billing_date", "user__tier")
    search_fields = ("user__email", "session__id", "session__name", "api_key__prefix")
    date_hierarchy = "billing_date"
    raw_id_fields = ("user", "session", "api_key")
