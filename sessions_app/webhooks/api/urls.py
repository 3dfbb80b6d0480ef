"""Routes of the webhooks API, under /api/v1/."""

from django.urls import path

from sessions_app.webhooks.api import views

WEBHOOK = "webhooks/<id:webhook_id>"

urlpatterns = [
    path("webhooks", views.WebhookListCreateApi.as_view(), name="webhooks"),
    path(WEBHOOK, views.WebhookDetailApi.as_view(), name="webhook"),
    path(
        f"{WEBHOOK}/rotate-secret",
        views.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path(f"{WEBHOOK}/deliveries", views.WebhookDeliveriesApi.as_view(), name="webhook-deliveries"),
    path(
        f"{WEBHOOK}/deliveries/<id:delivery_id>/replay",
        views.WebhookDeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
]
