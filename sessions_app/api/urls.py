from django.urls import path

from sessions_app.api import views
from sessions_app.webhooks import api as webhooks

app_name = "api_sessions"

urlpatterns = [
    path("sessions", views.SessionListCreateApi.as_view(), name="list"),
    path("sessions/<id:session_id>", views.SessionDetailApi.as_view(), name="detail"),
    path("sessions/<id:session_id>/connect", views.SessionConnectApi.as_view(), name="connect"),
    path(
        "sessions/<id:session_id>/disconnect",
        views.SessionDisconnectApi.as_view(),
        name="disconnect",
    ),
    path("sessions/<id:session_id>/logout", views.SessionLogoutApi.as_view(), name="logout"),
    path("sessions/<id:session_id>/qr", views.SessionQrApi.as_view(), name="qr"),
    path("sessions/<id:session_id>/status", views.SessionStatusApi.as_view(), name="status"),
    path(
        "sessions/<id:session_id>/messages",
        views.SessionMessagesApi.as_view(),
        name="messages",
    ),
    path(
        "sessions/<id:session_id>/sandbox/scan",
        views.SandboxScanApi.as_view(),
        name="sandbox-scan",
    ),
    path(
        "sessions/<id:session_id>/sandbox/incoming",
        views.SandboxIncomingApi.as_view(),
        name="sandbox-incoming",
    ),
    path(
        "sessions/<id:session_id>/sandbox/logout",
        views.SandboxPhoneActionApi.as_view(action="logout"),
        name="sandbox-logout",
    ),
    path(
        "sessions/<id:session_id>/sandbox/disconnect",
        views.SandboxPhoneActionApi.as_view(action="disconnect"),
        name="sandbox-disconnect",
    ),
    path(
        "sessions/<id:session_id>/contacts/check",
        views.ContactCheckApi.as_view(),
        name="contacts-check",
    ),
    path("media/<id:media_id>", views.MediaDownloadApi.as_view(), name="media"),
    path("messages", views.MessageSendApi.as_view(), name="send"),
    path("messages/<id:message_id>", views.MessageDetailApi.as_view(), name="message"),
    path("webhooks", webhooks.WebhookListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<id:webhook_id>", webhooks.WebhookDetailApi.as_view(), name="webhook"),
    path(
        "webhooks/<id:webhook_id>/rotate-secret",
        webhooks.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<id:webhook_id>/deliveries",
        webhooks.WebhookDeliveriesApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/replay",
        webhooks.WebhookDeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
]
