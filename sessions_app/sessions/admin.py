"""Admin pages for sessions."""

from django.contrib import admin

from gateway.admin import ReadOnlyAdmin
from sessions_app.sessions.models import Session


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    """Sessions, read only but their name: a status or node typed in would not tell the node,
    so sessions move through the nodes' drain, rebalance and remove actions; users create and
    connect them."""

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
    exclude = ("qr_code",)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [f.name for f in Session._meta.fields if f.name not in ("name", "qr_code")]
