from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from workers_app.credentials import node_credential_issue, node_credential_revoke
from workers_app.fleet.operations import worker_drain, worker_remove, worker_undrain
from workers_app.fleet.rebalance import workers_rebalance
from workers_app.models import NodeCredential, Worker


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "session_store",
        "session_count",
        "max_sessions",
        "active_connections",
        "cpu_usage",
        "memory_usage",
        "engines",
        "version",
        "last_heartbeat",
    )
    list_filter = ("status", "session_store")
    search_fields = ("id", "endpoint")
    # Nodes report everything but their capacity; status changes only through the actions
    # (drain, undrain, remove), which move sessions and log. Editing the id would copy the row.
    fields = (
        "id",
        "status",
        "drain_requested_by",
        "endpoint",
        "max_sessions",
        "session_count",
        "active_connections",
        "cpu_usage",
        "memory_usage",
        "engines",
        "session_store",
        "version",
        "health_url",
        "instance_id",
        "last_heartbeat",
        "registered_at",
    )
    readonly_fields = tuple(name for name in fields if name != "max_sessions")
    actions = ["drain", "undrain", "rebalance", "remove"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A node registers itself, or an operator adds it ahead with POST /api/admin/workers:
        # both check its id, and a node is ONLINE only once it reports in.
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Removing goes through `remove`, which moves the sessions away first.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: Worker) -> None:
        worker_remove(worker_id=obj.id)

    @admin.action(description="Drain selected nodes (move their sessions, take no new ones)")
    def drain(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        moved = stayed = 0
        for worker in queryset:
            _, evacuation = worker_drain(worker_id=worker.id)
            moved += len(evacuation.moved)
            stayed += evacuation.stayed
        self.message_user(request, f"Drained: {moved} sessions moved, {stayed} could not move.")

    @admin.action(description="Undrain selected nodes (take new sessions again)")
    def undrain(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        for worker in queryset:
            worker_undrain(worker_id=worker.id)
        self.message_user(request, f"{queryset.count()} nodes back in service.")

    @admin.action(description="Rebalance sessions among selected nodes (same session store)")
    def rebalance(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        moves = workers_rebalance(worker_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"Rebalanced: {len(moves)} sessions moved.")

    @admin.action(description="Remove selected nodes (move their sessions away first)")
    def remove(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        moved = disconnected = 0
        for worker_id in list(queryset.values_list("id", flat=True)):
            evacuation = worker_remove(worker_id=worker_id)
            moved += len(evacuation.moved)
            disconnected += evacuation.stayed
        self.message_user(
            request,
            f"Removed: {moved} sessions moved, {disconnected} disconnected.",
            messages.WARNING if disconnected else messages.SUCCESS,
        )


@admin.register(NodeCredential)
class NodeCredentialAdmin(admin.ModelAdmin):
    """Per-node secrets. Adding one issues a secret for the WORKER_ID, shown once; a node uses
    it as its BACKEND_AUTH_TOKEN. Rotate: add another, restart the node with it, revoke the
    old one (both are valid in between)."""

    list_display = ("worker_id", "prefix", "note", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("worker_id", "prefix", "note")
    fields = ("worker_id", "note", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        issued = ("prefix", "created_at", "last_used_at", "revoked_at")
        return ("worker_id", *issued) if obj is not None else issued

    def save_model(
        self, request: HttpRequest, obj: NodeCredential, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)  # only the note changes
            return
        issued = node_credential_issue(worker_id=obj.worker_id, note=obj.note)
        obj.pk = issued.credential.pk
        messages.warning(
            request,
            f"Node {obj.worker_id}'s secret, shown only now; set it as the node's "
            f"BACKEND_AUTH_TOKEN: {issued.secret}",
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, not deleted: the list keeps what was issued

    @admin.action(description="Revoke the selected credentials (their nodes get 401 at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[NodeCredential]) -> None:
        revoked = sum(node_credential_revoke(credential_id=c.pk) for c in queryset)
        self.message_user(request, f"{revoked} credential(s) revoked.")
