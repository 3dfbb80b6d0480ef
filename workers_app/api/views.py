"""Node registration and heartbeats (node token) and the operators' node admin API (staff).

Operators' errors: 404 `worker_not_found`, 409 `worker_already_exists`, 400 `validation_error`;
a non-staff user, or an API key bound to one session, gets 403 `forbidden` (401 `unauthorized`
without credentials). Node ids follow workers_app.validators. A node's registration or heartbeat
gets 409 `worker_id_in_use` when another running process uses its WORKER_ID.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

from gateway.api import IsOperator, NodeApiView, OwnerApiView
from gateway.errors import envelope
from gateway.fields import (
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictRegexField,
)
from gateway.metrics import CountedReport
from gateway.schema import error_answers
from node_agent.protocol import HEARTBEAT_ERRORS_MAX
from sessions_app.sessions.models import Session
from sessions_app.sessions.selectors import sessions_not_on_node
from workers_app import selectors, services
from workers_app.fleet.moves import Move
from workers_app.fleet.operations import worker_drain, worker_remove, worker_undrain
from workers_app.fleet.rebalance import workers_rebalance
from workers_app.models import Worker
from workers_app.validators import WorkerIdField

TAGS = ["nodes"]
NODE_TAGS = ["node reports"]  # what node agents call (gateway.schema.security)
INSTANCE_ID_PATTERN = r"\A[0-9a-f]{32}\Z"


class CreateInput(serializers.Serializer):
    workerId = WorkerIdField()
    maxSessions = StrictIntegerField(min_value=1, max_value=1_000_000)
    engines = serializers.ListField(
        child=serializers.ChoiceField(choices=Session.Engine.choices), allow_empty=False
    )


def instance_id_field() -> StrictRegexField:
    """Return the optional `instanceId` field: 32 lowercase hex digits, "" when not sent."""
    return StrictRegexField(
        INSTANCE_ID_PATTERN,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        default="",
        help_text="Random id of the sending node process (uuid4 hex), new on every start; "
        "tells two processes with one WORKER_ID apart.",
    )


class RegisterInput(CreateInput):
    endpoint = StrictCharField(max_length=100, required=False)
    instanceId = instance_id_field()
    sessionStore = StrictRegexField(
        r"\A[A-Za-z0-9_-]{0,64}\Z",
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        default="",
        help_text="Id of the shared session store the node uses; empty = its own files "
        "(its sessions cannot move to another node without a new scan).",
    )
    version = StrictCharField(max_length=40, required=False, allow_blank=True, default="")
    healthUrl = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    runningSessions = serializers.ListField(
        child=StrictCharField(max_length=32),
        required=False,
        default=list,
        max_length=100_000,
        help_text="Ids of the sessions the node runs; the answer's stopSessions lists those "
        "no longer assigned to it.",
    )


class MetricsInput(serializers.Serializer):
    sessionCount = StrictIntegerField(min_value=0, max_value=1_000_000, default=0)
    cpuUsage = StrictFloatField(min_value=0, max_value=100, default=0.0, help_text="%")
    memoryUsage = StrictFloatField(min_value=0, max_value=100, default=0.0, help_text="%")
    activeConnections = StrictIntegerField(min_value=0, max_value=1_000_000, default=0)


class NodeErrorInput(serializers.Serializer):
    logger = StrictCharField(max_length=100)
    message = StrictCharField(max_length=200, allow_blank=True, trim_whitespace=False)
    error = StrictCharField(max_length=100, required=False, default="", allow_blank=True)
    where = StrictCharField(max_length=200, required=False, default="", allow_blank=True)
    at = serializers.DateTimeField()


class HeartbeatInput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[Worker.Status.ONLINE, Worker.Status.DRAINING],
        required=False,
        help_text="DRAINING: the node asks to take no new sessions (e.g. before a restart).",
    )
    metrics = MetricsInput(required=False, default=dict)
    instanceId = instance_id_field()
    runningSessions = serializers.ListField(
        child=StrictCharField(max_length=32),
        required=False,
        default=list,
        max_length=100_000,
        help_text="Ids of the sessions the node runs; the answer's stopSessions lists those "
        "no longer assigned to it.",
    )
    unreachableEngines = serializers.ListField(
        child=StrictCharField(max_length=32),
        required=False,
        default=None,
        max_length=20,
        help_text="Engines whose network (e.g. WhatsApp) did not answer the node's last probe.",
    )
    errors = serializers.ListField(
        child=NodeErrorInput(),
        required=False,
        default=list,
        max_length=HEARTBEAT_ERRORS_MAX,
        help_text="The node's unexpected errors since its last heartbeat (System log).",
    )


class WorkerOutput(serializers.ModelSerializer):
    workerId = serializers.CharField(source="id")
    sessionCount = serializers.IntegerField(source="session_count")
    maxSessions = serializers.IntegerField(source="max_sessions")
    activeConnections = serializers.IntegerField(source="active_connections")
    cpuUsage = serializers.FloatField(source="cpu_usage")
    memoryUsage = serializers.FloatField(source="memory_usage")
    lastHeartbeat = serializers.DateTimeField(source="last_heartbeat", allow_null=True)
    sessionStore = serializers.CharField(source="session_store")

    class Meta:
        model = Worker
        fields = [
            "workerId",
            "endpoint",
            "status",
            "engines",
            "sessionStore",
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
    stop = sessions_not_on_node(worker_id=worker.id, session_ids=running)
    return {**WorkerOutput(worker).data, "stopSessions": stop}


WORKER_ID_IN_USE = OpenApiResponse(
    description="`worker_id_in_use`: another running node process uses this WORKER_ID. "
    "Nothing is recorded."
)


class WorkerRegisterApi(CountedReport, NodeApiView):
    report_kind = "register"

    @extend_schema(
        tags=NODE_TAGS,
        request=RegisterInput,
        responses={
            200: NodeAnswerOutput,
            409: WORKER_ID_IN_USE,
            **error_answers(
                {403: "`node_forbidden`: the body names another node than the credential's."}
            ),
        },
        description="A process with another instanceId than the node's last registration takes "
        "over only if that one does not answer its health URL as itself; otherwise 409 "
        "`worker_id_in_use`.",
    )
    def post(self, request: Any) -> Any:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        self.node.require(values["workerId"])
        worker = services.worker_register(
            worker_id=values["workerId"],
            max_sessions=values["maxSessions"],
            engines=values["engines"],
            version=values["version"],
            health_url=values["healthUrl"],
            session_store=values["sessionStore"],
            instance_id=values["instanceId"],
        )
        return envelope(_node_answer(worker, values["runningSessions"]))


class WorkerHeartbeatApi(CountedReport, NodeApiView):
    report_kind = "heartbeat"

    @extend_schema(
        tags=NODE_TAGS,
        request=HeartbeatInput,
        responses={
            200: NodeAnswerOutput,
            409: WORKER_ID_IN_USE,
            **error_answers(
                {403: "`node_forbidden`: the path names another node than the credential's."}
            ),
        },
        description="404 `worker_not_found` for an unknown node; 409 `worker_id_in_use` when "
        "instanceId is not the node's last registration's (the node registers again).",
    )
    def put(self, request: Any, worker_id: str) -> Any:
        self.node.require(worker_id)
        data = HeartbeatInput(data=request.data)
        data.is_valid(raise_exception=True)
        worker = services.worker_heartbeat(
            worker_id=worker_id,
            metrics=dict(data.validated_data["metrics"]),
            draining=data.validated_data.get("status") == Worker.Status.DRAINING,
            instance_id=data.validated_data["instanceId"],
            errors=data.validated_data["errors"],
            unreachable_engines=data.validated_data["unreachableEngines"],
        )
        return envelope(_node_answer(worker, data.validated_data["runningSessions"]))


class MoveOutput(serializers.Serializer):
    sessionId = serializers.CharField()
    to = serializers.CharField(help_text="The node the session moved to.")

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="The node the session left.")
        return fields


class DrainOutput(WorkerOutput):
    moved = MoveOutput(many=True)
    stayed = serializers.IntegerField(
        help_text="Running or linking sessions that could not move and stay on the node."
    )

    class Meta(WorkerOutput.Meta):
        fields = [*WorkerOutput.Meta.fields, "moved", "stayed"]


class RemoveOutput(serializers.Serializer):
    workerId = serializers.CharField()
    deleted = serializers.BooleanField()
    moved = MoveOutput(many=True)
    disconnected = serializers.IntegerField(
        help_text="Sessions that could not move and became DISCONNECTED (`node_removed`)."
    )


def _moves(moves: list[Move]) -> list[dict[str, str]]:
    return [move.as_dict() for move in moves]


class OperatorApiView(OwnerApiView):
    permission_classes = [IsOperator]


class WorkerListApi(OperatorApiView):
    @extend_schema(tags=TAGS, responses=WorkerOutput(many=True), summary="List nodes (operators)")
    def get(self, request: Any) -> Any:
        return envelope(WorkerOutput(selectors.worker_list(), many=True).data)

    @extend_schema(
        tags=TAGS,
        request=CreateInput,
        responses={201: WorkerOutput, **error_answers({409: "`worker_already_exists`."})},
        summary="Add a node ahead of its first start (operators)",
        description="The node is OFFLINE until it registers itself, which makes it ONLINE with "
        "what it reports. 409 `worker_already_exists` when the id is taken.",
    )
    def post(self, request: Any) -> Any:
        data = CreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        worker = services.worker_create(
            worker_id=values["workerId"],
            max_sessions=values["maxSessions"],
            engines=values["engines"],
        )
        return envelope(WorkerOutput(worker).data, status=201)


class WorkerDetailApi(OperatorApiView):
    @extend_schema(
        tags=TAGS,
        responses={200: RemoveOutput},
        summary="Remove a node (operators)",
        description="Its sessions that can move (connected, login in a shared store another "
        "ONLINE node uses) move first; its other connected and linking sessions become "
        "DISCONNECTED (`node_removed`). 404 `worker_not_found`.",
    )
    def delete(self, request: Any, worker_id: str) -> Any:
        evacuation = worker_remove(worker_id=worker_id)
        return envelope(
            {
                "workerId": worker_id,
                "deleted": True,
                "moved": _moves(evacuation.moved),
                "disconnected": evacuation.stayed,
            }
        )


class WorkerDrainApi(OperatorApiView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses=DrainOutput,
        summary="Drain a node (operators)",
        description="The node takes no new sessions until undrained; its sessions that can "
        "move are handed over to ONLINE nodes of its store, the others stay. Repeating it moves "
        "what can move now. 404 `worker_not_found`.",
    )
    def post(self, request: Any, worker_id: str) -> Any:
        worker, evacuation = worker_drain(worker_id=worker_id)
        return envelope(
            {
                **WorkerOutput(worker).data,
                "moved": _moves(evacuation.moved),
                "stayed": evacuation.stayed,
            }
        )


class WorkerUndrainApi(OperatorApiView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses=WorkerOutput,
        summary="Undrain a node (operators)",
        description="A DRAINING node is ONLINE again and takes new sessions; moved sessions "
        "stay where they are (see rebalance). 404 `worker_not_found`.",
    )
    def post(self, request: Any, worker_id: str) -> Any:
        return envelope(WorkerOutput(worker_undrain(worker_id=worker_id)).data)


class RebalanceInput(serializers.Serializer):
    workerIds = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        allow_empty=False,
        max_length=10_000,
        help_text="Rebalance only among these nodes; all nodes when left out.",
    )


class WorkerRebalanceApi(OperatorApiView):
    @extend_schema(
        tags=TAGS,
        request=RebalanceInput,
        responses=MoveOutput(many=True),
        summary="Rebalance sessions between nodes (operators)",
        description="Among ONLINE nodes sharing a session store, moves connected sessions "
        "from the most to the least loaded nodes (assigned sessions / maxSessions) while that "
        "narrows the spread. Answers the moves; an empty list when balanced.",
    )
    def post(self, request: Any) -> Any:
        data = RebalanceInput(data=request.data)
        data.is_valid(raise_exception=True)
        worker_ids = data.validated_data.get("workerIds")
        return envelope(_moves(workers_rebalance(worker_ids=worker_ids)))
