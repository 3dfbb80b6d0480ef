"""Routes of the sessions API, under /api/v1/."""

from django.urls import path

from sessions_app.sessions.api import views

SESSION = "sessions/<id:session_id>"

urlpatterns = [
    path("sessions", views.SessionListCreateApi.as_view(), name="list"),
    path(SESSION, views.SessionDetailApi.as_view(), name="detail"),
    path(f"{SESSION}/connect", views.SessionConnectApi.as_view(), name="connect"),
    path(f"{SESSION}/disconnect", views.SessionDisconnectApi.as_view(), name="disconnect"),
    path(f"{SESSION}/logout", views.SessionLogoutApi.as_view(), name="logout"),
    path(f"{SESSION}/pacing", views.SessionPacingApi.as_view(), name="pacing"),
    path(f"{SESSION}/qr", views.SessionQrApi.as_view(), name="qr"),
    path(f"{SESSION}/status", views.SessionStatusApi.as_view(), name="status"),
    path(f"{SESSION}/sandbox/scan", views.SandboxScanApi.as_view(), name="sandbox-scan"),
    path(
        f"{SESSION}/sandbox/incoming", views.SandboxIncomingApi.as_view(), name="sandbox-incoming"
    ),
    path(
        f"{SESSION}/sandbox/presence", views.SandboxPresenceApi.as_view(), name="sandbox-presence"
    ),
    path(f"{SESSION}/sandbox/call", views.SandboxCallApi.as_view(), name="sandbox-call"),
    path(
        f"{SESSION}/sandbox/message-action",
        views.SandboxMessageActionApi.as_view(),
        name="sandbox-message-action",
    ),
    path(
        f"{SESSION}/sandbox/logout",
        views.SandboxPhoneActionApi.as_view(action="logout"),
        name="sandbox-logout",
    ),
    path(
        f"{SESSION}/sandbox/disconnect",
        views.SandboxPhoneActionApi.as_view(action="disconnect"),
        name="sandbox-disconnect",
    ),
]
