from django.urls import path

from sessions_app.api import views

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
    path("messages", views.MessageSendApi.as_view(), name="send"),
    path("messages/<id:message_id>", views.MessageDetailApi.as_view(), name="message"),
]
