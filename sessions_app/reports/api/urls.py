"""Routes nodes report to, under /api/ (paths from `node_agent.protocol`)."""

from django.urls import path

from sessions_app.reports.api import views

urlpatterns = [
    path("webhooks/session-status", views.SessionStatusReportApi.as_view(), name="session-status"),
    path("webhooks/message-status", views.MessageStatusReportApi.as_view(), name="message-status"),
    path(
        "webhooks/message-received",
        views.MessageReceivedReportApi.as_view(),
        name="message-received",
    ),
    path("webhooks/group-event", views.GroupEventReportApi.as_view(), name="group-event"),
    path("webhooks/session-event", views.SessionEventReportApi.as_view(), name="session-event"),
    path("webhooks/reports", views.ReportBatchApi.as_view(), name="reports"),
    path("webhooks/media", views.MediaUploadReportApi.as_view(), name="media-upload"),
    path("internal/media/<id:media_id>", views.NodeMediaDownloadApi.as_view(), name="media"),
]
