"""Node registration and heartbeats (node token) and the operators' node admin API (staff)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from gateway.api import IsOperator, NodeApiView, OwnerApiView
from gateway.errors import envelope
from sessions_app.models import Session
from workers_app import selectors, services
from workers_app.models import Worker

TAGS = ["nodes"]


class RegisterInput(serializers.Serializer):
    workerId = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    endpoint = serializers.CharField(max_length=100, required=False)
    maxSessions = serializers.IntegerField(min_value=1, max_value=1_000_000)
    engines = serializers.ListField(
        child=serializers.ChoiceField(choices=Session.Engine.choices), allow_empty=False
    )
    version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    healthUrl = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    runningSessions = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        default=list,
        max_length=100_000,
        help_text="Ids of the sessions the node runs; the answer's stopSessions lists those "
        "no longer assigned to it.",
    )


class MetricsInput(serializers.Serializer):
    sessionCount = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
    cpuUsage = serializers.FloatField(min_value=0, max_value=100, default=0.0, help_text="%")
    memoryUsage = serializers.FloatField(min_value=0, max_value=100, default=0.0, help_text="%")
    activeConnections = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)


class HeartbeatInput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[Worker.Status.ONLINE, Worker.Status.DRAINING],
        required=False,
        help_text="DRAINING: the node asks to take no new sessions (e.g. before a restart).",
    )
    metrics = MetricsInput(required=False, default=dict)
    runningSessions = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        default=list,
        max_length=100_000,
        help_text="Ids of the sessions the node runs; the answer's stopSessions lists those "
        "no longer assigned to it.",
    )


class WorkerOutput(serializers.ModelSerializer):
    workerId = serializers.CharField(source="id")
    sessionCount = serializers.IntegerField(source="session_count")
    maxSessions = serializers.IntegerField(source="max_sessions")
    activeConnections = serializers.IntegerField(source="active_connections")
    cpuUsage = serializers.FloatField(source="cpu_usage")
    memoryUsage = serializers.FloatField(source="memory_usage")
    lastHeartbeat = serializers.DateTimeField(source="last_heartbeat")

    class Meta:
        model = Worker
        fields = [
            "workerId",
            "endpoint",
            "status",
            "engines",
            "version",
            "sessionCount",
            "maxSessions",
            "activeConnections",
            "cpuUsage",
            "memoryUsage",
            "lastHeartbeat",
        ]


class NodeAnswerOutput(WorkerOutput):
    stopSessions = serializers.ListField(
        child=serializers.CharField(),
        help_text="Sessions the node runs that are no longer assigned to it: it stops them.",
    )

    class Meta(WorkerOutput.Meta):
        fields = [*WorkerOutput.Meta.fields, "stopSessions"]


def _node_answer(worker: Worker, running: list[str]) -> dict[str, Any]:
    stop = selectors.sessions_not_on_worker(worker_id=worker.id, session_ids=running)
    return {**WorkerOutput(worker).data, "stopSessions": stop}


class WorkerRegisterApi(NodeApiView):
    @extend_schema(tags=TAGS, request=RegisterInput, responses=NodeAnswerOutput)
    def post(self, request: Any) -> Any:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        worker = services.worker_register(
            worker_id=values["workerId"],
            max_sessions=values["maxSessions"],
            engines=values["engines"],
            version=values["version"],
            health_url=values["healthUrl"],
        )
        return envelope(_node_answer(worker, values["runningSessions"]))


class WorkerHeartbeatApi(NodeApiView):
    @extend_schema(tags=TAGS, request=HeartbeatInput, responses=NodeAnswerOutput)
    def put(self, request: Any, worker_id: str) -> Any:
        data = HeartbeatInput(data=request.data)
        data.is_valid(raise_exception=True)
        worker = services.worker_heartbeat(
            worker_id=worker_id,
            metrics=dict(data.validated_data["metrics"]),
            draining=data.validated_data.get("status") == Worker.Status.DRAINING,
        )
        return envelope(_node_answer(worker, data.validated_data["runningSessions"]))


class WorkerListApi(OwnerApiView):
    permission_classes = [IsOperator]

    @extend_schema(tags=TAGS, responses=WorkerOutput(many=True), summary="List nodes (operators)")
    def get(self, request: Any) -> Any:
        return envelope(WorkerOutput(selectors.worker_list(), many=True).data)


class WorkerDetailApi(OwnerApiView):
    permission_classes = [IsOperator]

    @extend_schema(tags=TAGS, responses={200: None}, summary="Remove a node (operators)")
    def delete(self, request: Any, worker_id: str) -> Any:
        services.worker_remove(worker_id=worker_id)
        return envelope({"workerId": worker_id, "deleted": True})


class WorkerDrainApi(OwnerApiView):
    permission_classes = [IsOperator]

    @extend_schema(tags=TAGS, request=None, responses=WorkerOutput, summary="Drain a node")
    def post(self, request: Any, worker_id: str) -> Any:
        return envelope(WorkerOutput(services.worker_drain(worker_id=worker_id)).data)
