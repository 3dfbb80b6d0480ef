"""Public API for webhook endpoints and their delivery log (`/api/v1/webhooks`).

Thin: serializers validate, services act. Every read is scoped to the caller; a session-bound
API key sees and manages only endpoints bound to its session.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers

from gateway.api import OwnerApiView
from gateway.errors import envelope
from gateway.schema import error_answers
from sessions_app.sessions.selectors import session_get
from sessions_app.webhooks import endpoints, events, selectors
from sessions_app.webhooks.api.serializers import (
    EVENT_EXAMPLES,
    UPDATE_FIELDS,
    DeliveryOutput,
    EndpointInput,
    EndpointOutput,
    EndpointUpdateInput,
    EndpointWithSecretOutput,
)
from sessions_app.webhooks.models import WebhookDelivery

TAGS = ["webhooks"]


class WebhookApiView(OwnerApiView):
    """A view about one of the caller's webhook endpoints."""

    def get_endpoint(self, webhook_id: str) -> Any:
        return selectors.endpoint_get(
            owner=self.owner, endpoint_id=webhook_id, api_key=self.api_key
        )


class WebhookListCreateApi(OwnerApiView):
    @extend_schema(tags=TAGS, responses=EndpointOutput(many=True), summary="List webhooks")
    def get(self, request: Any) -> Any:
        endpoints = selectors.endpoint_list(owner=self.owner, api_key=self.api_key)
        return envelope(EndpointOutput(endpoints, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=EndpointInput,
        responses={
            201: EndpointWithSecretOutput,
            **error_answers({400: "`unsafe_url`.", 404: "`session_not_found` (`sessionId`)."}),
        },
        examples=[
            OpenApiExample(
                "Incoming messages of one session",
                request_only=True,
                value={
                    "url": "https://example.com/hooks/whatsapp",
                    "eventTypes": ["message.received"],
                    "sessionId": "ses_abcdefgh12345678",
                },
            )
        ],
        summary="Register a webhook (the secret is shown only in this response)",
        description=(
            "Deliveries are signed per the Standard Webhooks spec (`webhook-id`, "
            "`webhook-timestamp`, `webhook-signature`). `url` must be http(s) and reach a public "
            "address (400 `unsafe_url`). The same URL registered twice gets each event once."
        ),
    )
    def post(self, request: Any) -> Any:
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        session = None
        session_id = values.get("sessionId")
        bound = getattr(self.api_key, "session_id", None)
        if bound and not session_id:
            session_id = bound
        if session_id:
            session = session_get(owner=self.owner, session_id=session_id, api_key=self.api_key)
        endpoint = endpoints.endpoint_create(
            owner=self.owner,
            url=values["url"],
            event_types=values["eventTypes"],
            session=session,
            description=values["description"],
            hub_signature=values["hubSignature"],
            enabled=values["enabled"],
        )
        return envelope(EndpointWithSecretOutput(endpoint).data, status=201)


class WebhookDetailApi(WebhookApiView):
    @extend_schema(tags=TAGS, responses=EndpointOutput, summary="Get a webhook")
    def get(self, request: Any, webhook_id: str) -> Any:
        return envelope(EndpointOutput(self.get_endpoint(webhook_id)).data)

    @extend_schema(
        tags=TAGS,
        request=EndpointUpdateInput,
        responses={200: EndpointOutput, **error_answers({400: "`unsafe_url`."})},
        summary="Change a webhook (enabled: true re-enables one that was disabled)",
    )
    def patch(self, request: Any, webhook_id: str) -> Any:
        endpoint = self.get_endpoint(webhook_id)
        data = EndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = {UPDATE_FIELDS[key]: value for key, value in data.validated_data.items()}
        endpoint = endpoints.endpoint_update(owner=self.owner, endpoint=endpoint, **changes)
        return envelope(EndpointOutput(endpoint).data)

    @extend_schema(tags=TAGS, responses={200: None}, summary="Delete a webhook")
    def delete(self, request: Any, webhook_id: str) -> Any:
        endpoints.endpoint_delete(owner=self.owner, endpoint=self.get_endpoint(webhook_id))
        return envelope({"id": webhook_id, "deleted": True})


class WebhookRotateSecretApi(WebhookApiView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses=EndpointWithSecretOutput,
        summary="Rotate the secret (the old one keeps signing for 24 h)",
    )
    def post(self, request: Any, webhook_id: str) -> Any:
        endpoint = endpoints.endpoint_rotate_secret(
            owner=self.owner, endpoint=self.get_endpoint(webhook_id)
        )
        return envelope(EndpointWithSecretOutput(endpoint).data)


class WebhookDeliveriesApi(WebhookApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[
            OpenApiParameter("status", enum=WebhookDelivery.Status.values, required=False),
            OpenApiParameter("limit", int, required=False, description="1–200, default 50."),
        ],
        responses=DeliveryOutput(many=True),
        examples=EVENT_EXAMPLES,
        summary="Delivery log, newest first, with every attempt and the payload sent",
    )
    def get(self, request: Any, webhook_id: str) -> Any:
        endpoint = self.get_endpoint(webhook_id)
        status = request.query_params.get("status") or None
        if status and status not in WebhookDelivery.Status.values:
            raise serializers.ValidationError({"status": ["Unknown status."]})
        try:
            limit = min(max(int(request.query_params.get("limit") or 50), 1), 200)
        except ValueError:
            raise serializers.ValidationError({"limit": ["Must be an integer."]}) from None
        deliveries = selectors.delivery_list(endpoint=endpoint, status=status, limit=limit)
        return envelope(DeliveryOutput(deliveries, many=True).data)


class WebhookDeliveryReplayApi(WebhookApiView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            202: DeliveryOutput,
            **error_answers(
                {409: "`webhook_disabled`, `delivery_in_progress` or `replay_window_passed`."}
            ),
        },
        summary="Send a delivery again now (same event id, one more attempt)",
    )
    def post(self, request: Any, webhook_id: str, delivery_id: str) -> Any:
        endpoint = self.get_endpoint(webhook_id)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        delivery = events.delivery_replay(owner=self.owner, delivery=delivery)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery.id)
        return envelope(DeliveryOutput(delivery).data, status=202)
