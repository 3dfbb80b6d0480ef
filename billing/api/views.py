"""`POST /api/webhooks/usage-report`: a node's hourly usage (node_agent/usage.py), applied and
reconciled with the message ledger by billing/reconcile.py. Authenticated by the node token."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers

from billing.reconcile import SessionUsage, node_usage_apply
from gateway.api import NodeApiView
from gateway.errors import envelope
from gateway.fields import StrictCharField, StrictIntegerField
from gateway.metrics import CountedReport
from gateway.schema import error_answers
from gateway.timefmt import iso_utc
from node_agent import protocol

TAGS = ["node reports"]
COUNT_MAX = 2**31 - 1  # the columns' largest value
SESSIONS_MAX = 10_000


class SessionUsageInput(serializers.Serializer):
    sessionId = StrictCharField(max_length=32)
    sent = StrictIntegerField(min_value=0, max_value=COUNT_MAX)
    received = StrictIntegerField(min_value=0, max_value=COUNT_MAX)


class UsageReportInput(serializers.Serializer):
    """One UTC hour: `periodStart` on the hour, `periodEnd` one hour later (ISO 8601)."""

    workerId = StrictCharField(max_length=64)
    periodStart = serializers.DateTimeField()
    periodEnd = serializers.DateTimeField()
    sessions = SessionUsageInput(many=True, allow_empty=True, max_length=SESSIONS_MAX)

    def validate_workerId(self, value: str) -> str:
        problem = protocol.worker_id_error(value)
        if problem:
            raise serializers.ValidationError(f"A node id {problem}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs["periodStart"].astimezone(UTC)
        end = attrs["periodEnd"].astimezone(UTC)
        if start != start.replace(minute=0, second=0, microsecond=0):
            raise serializers.ValidationError({"periodStart": ["Must be on the hour (UTC)."]})
        if end - start != timedelta(hours=1):
            raise serializers.ValidationError(
                {"periodEnd": ["Must be one hour after periodStart."]}
            )
        ids = [line["sessionId"] for line in attrs["sessions"]]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError({"sessions": ["Each sessionId at most once."]})
        return {**attrs, "periodStart": start, "periodEnd": end}


_EXAMPLE = {
    "workerId": "node-1",
    "periodStart": "2026-12-03T14:00:00.000000Z",
    "periodEnd": "2026-12-03T15:00:00.000000Z",
    "sessions": [{"sessionId": "ses_abc123", "sent": 42, "received": 17}],
}


class UsageReportApi(CountedReport, NodeApiView):
    report_kind = "usage"

    @extend_schema(
        tags=TAGS,
        request=UsageReportInput,
        responses={
            200: None,
            **error_answers(
                {403: "`node_forbidden`: the body names another node than the credential's."}
            ),
        },
        summary="A node's usage of one UTC hour",
        description="Stores each session's counts for the node and hour; a repeat replaces "
        "them (never adds). `sent` is compared with the message ledger (messages whose `sentAt` "
        "is in the hour): a difference is written to the System log. `received` is stored as "
        "reported (the backend has no hourly ledger of incoming messages). A session the "
        "backend does not know is stored without a user and logged, not refused. Answers "
        "`{workerId, periodStart, periodEnd, applied, mismatched: [sessionId], unknown: "
        "[sessionId], refused: [sessionId]}` (`refused`: sessions the node never served, not "
        "stored). 400 `validation_error` for a malformed body (`fields` says which), "
        "`invalid_json` for one that is not JSON.",
        examples=[OpenApiExample("usage report", request_only=True, value=_EXAMPLE)],
    )
    def post(self, request: Any) -> Any:
        data = UsageReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        self.node.require(values["workerId"])
        outcome = node_usage_apply(
            worker_id=values["workerId"],
            period_start=values["periodStart"],
            period_end=values["periodEnd"],
            sessions=[
                SessionUsage(line["sessionId"], line["sent"], line["received"])
                for line in values["sessions"]
            ],
        )
        return envelope(
            {
                "workerId": values["workerId"],
                "periodStart": iso_utc(values["periodStart"]),
                "periodEnd": iso_utc(values["periodEnd"]),
                "applied": outcome.applied,
                "mismatched": outcome.mismatched,
                "unknown": outcome.unknown,
                "refused": outcome.refused,
            }
        )
