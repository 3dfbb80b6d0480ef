"""`GET /api/v1/usage`: a tenant's usage per period, session and key, with its quotas."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers

from billing.usage import GRANULARITIES, quota_standing, usage_range, usage_rows, usage_totals
from gateway.api import OwnerApiView
from gateway.errors import envelope
from gateway.fields import StrictDateField
from gateway.schema import error_answers
from sessions_app.errors import SessionNotFound

TAG_USAGE = ["usage"]


class UsageQuery(serializers.Serializer):
    """`from`/`to`: UTC days, both included (default: the last 30 days up to today)."""

    granularity = serializers.ChoiceField(choices=GRANULARITIES, default="day")
    sessionId = serializers.CharField(required=False, max_length=32)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = StrictDateField(required=False)  # a keyword in Python
        fields["to"] = StrictDateField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            start, end = usage_range(attrs.get("from"), attrs.get("to"))
        except ValueError as exc:
            raise serializers.ValidationError({"from": [str(exc)]}) from exc
        return {**attrs, "from": start, "to": end}


_STATUSES = {"queued": 0, "sent": 0, "delivered": 0, "read": 0, "failed": 0, "total": 0}
_EXAMPLE_ROW = {
    "period": "2026-12-01",
    "sessionId": "ses_abc123",
    "apiKeyId": 7,
    "messagesOut": {**_STATUSES, "sent": 3, "delivered": 40, "read": 12, "total": 55},
    "charged": 55,
    "messagesIn": 20,
    "numberChecks": 4,
}


class UsageApi(OwnerApiView):
    @extend_schema(
        tags=TAG_USAGE,
        parameters=[UsageQuery],
        responses={
            200: OpenApiTypes.OBJECT,
            **error_answers({404: "`session_not_found` (`sessionId`)."}),
        },
        summary="Usage per day or month, session and key",
        description=(
            "Messages out by status (from the message ledger, by the UTC day each was "
            "accepted), `charged` (what billing counts: a message once it left `queued` for "
            "anything but `failed`), messages in and number checks, per period, session and API "
            "key (`apiKeyId` null: the dashboard, or an incoming message), with totals and the "
            "plan's quotas as they stand. A session-bound key sees its session only (another "
            "`sessionId` is 404). At most 366 days a request (400 `validation_error`)."
        ),
        examples=[
            OpenApiExample(
                "usage",
                response_only=True,
                value={
                    "success": True,
                    "data": {
                        "from": "2026-12-01",
                        "to": "2026-12-01",
                        "granularity": "day",
                        "tier": "BASIC",
                        "quotas": [
                            {
                                "period": "day",
                                "used": 55,
                                "limit": 1000,
                                "percent": 5,
                                "level": "ok",
                                "resetsAt": "2026-12-02T00:00:00Z",
                            }
                        ],
                        "rows": [_EXAMPLE_ROW],
                        "totals": {k: v for k, v in _EXAMPLE_ROW.items() if k[0] in "mcn"},
                    },
                },
            )
        ],
    )
    def get(self, request: Any) -> Any:
        query = UsageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        session_id = values.get("sessionId")
        bound = getattr(self.api_key, "session_id", None)
        if bound and session_id and session_id != bound:
            raise SessionNotFound()
        rows = usage_rows(
            owner=self.owner,
            start=values["from"],
            end=values["to"],
            granularity=values["granularity"],
            session_id=bound or session_id,
        )
        quotas = quota_standing(user=self.owner, limits=self.limits)
        return envelope(
            {
                "from": values["from"].isoformat(),
                "to": values["to"].isoformat(),
                "granularity": values["granularity"],
                "tier": self.limits.tier,
                "quotas": [quota.to_wire() for quota in quotas],
                "rows": rows,
                "totals": usage_totals(rows),
            }
        )
