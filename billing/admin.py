"""Admin pages for plans, per-user overrides, quota counters and usage.

A plan's change applies to its users' next request: limits are read with each API key, never
cached. Overrides are edited on the user's page (accounts.admin puts the inline there).
"""

from django.contrib import admin
from django.http import HttpResponse

from billing.models import (
    MonthlyStatement,
    NodeUsageReport,
    Plan,
    PlanOverride,
    QuotaCounter,
    UsageRecord,
)
from billing.services import quota_recount, quota_recount_plan
from billing.statements import statements_csv
from gateway.admin import ReadOnlyAdmin

LIMIT_FIELDS = (
    "max_sessions",
    "messages_per_day",
    "messages_per_month",
    "send_rate_per_s",
    "send_burst",
    "api_requests_per_minute",
    "number_checks_per_minute",
    "max_webhooks",
)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("tier", "name", *LIMIT_FIELDS, "engines")
    fieldsets = (
        (None, {"fields": ("tier", "name", "engines")}),
        ("Limits (empty: unlimited)", {"fields": LIMIT_FIELDS}),
    )

    def get_readonly_fields(self, request, obj=None):
        # Users name their plan by its tier code: renaming it would strand them.
        return ("tier",) if obj is not None else ()

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change:  # a quota that starts to apply counts today's sends of the plan's users
            quota_recount_plan(tier=obj.tier)


class PlanOverrideInline(admin.StackedInline):
    model = PlanOverride
    can_delete = True
    extra = 0
    max_num = 1
    fields = (*LIMIT_FIELDS, "note")
    verbose_name = "limit override"


@admin.register(PlanOverride)
class PlanOverrideAdmin(admin.ModelAdmin):
    list_display = ("user", *LIMIT_FIELDS, "note")
    search_fields = ("user__email",)
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        quota_recount(user_id=obj.user_id)  # a quota that starts to apply counts today's sends


@admin.register(QuotaCounter)
class QuotaCounterAdmin(ReadOnlyAdmin):
    list_display = ("user", "day", "day_count", "month", "month_count")
    search_fields = ("user__email",)
    readonly_fields = ("user", "day", "day_count", "month", "month_count")


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    # Ids, not the objects: a usage row keeps the id of a session or key deleted since.
    list_display = ("billing_date", "user", "session_id", "api_key_id", "kind", "count")
    list_filter = ("kind", "billing_date", "user__plan")
    search_fields = ("user__email", "session__id", "session__name", "api_key__prefix")
    date_hierarchy = "billing_date"
    readonly_fields = ("user", "session_id", "api_key_id", "kind", "billing_date", "count")
    exclude = ("session", "api_key")


@admin.register(MonthlyStatement)
class MonthlyStatementAdmin(ReadOnlyAdmin):
    """Closed months per user (billing.statements); `amount_due` is a payment provider's."""

    list_display = (
        "month",
        "user",
        "tier",
        "messages_out",
        "messages_in",
        "number_checks",
        "included",
        "overage",
        "amount_due",
    )
    list_filter = ("month", "tier")
    search_fields = ("user__email",)
    date_hierarchy = "month"
    readonly_fields = [f.name for f in MonthlyStatement._meta.fields]
    actions = ["download_csv"]

    @admin.action(description="Download the selected statements as CSV")
    def download_csv(self, request, queryset) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="statements.csv"'
        statements_csv(queryset.select_related("user").order_by("month", "user__email"), response)
        return response


@admin.register(NodeUsageReport)
class NodeUsageReportAdmin(ReadOnlyAdmin):
    """The nodes' hourly usage reports and the ledger's count beside them (billing.reconcile);
    a mismatch is also in the System log (`usage.mismatch`)."""

    list_display = (
        "period_start",
        "worker_id",
        "session_id",
        "user",
        "sent",
        "reconciled_sent",
        "received",
    )
    list_filter = ("period_start", "worker_id")
    search_fields = ("session_id", "worker_id", "user__email")
    date_hierarchy = "period_start"
    readonly_fields = [f.name for f in NodeUsageReport._meta.fields]
