"""Admin pages for sessions."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from gateway.admin import ReadOnlyAdmin
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_delete


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    """Sessions, read only but their name: a status or node typed in would not tell the node,
    so sessions move through the nodes' drain, rebalance and remove actions; users create and
    connect them. Deleting one goes through `session_delete`, which tells its nodes."""

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

    def delete_model(self, request: HttpRequest, obj: Session) -> None:
        session_delete(owner=obj.owner, session=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        for session in queryset.select_related("owner"):
            session_delete(owner=session.owner, session=session)
