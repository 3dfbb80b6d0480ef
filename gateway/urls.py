"""URL map: dashboard, Django admin, public API (/api/v1), node API, OpenAPI and /health."""

from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gateway.converters import PublicIdConverter
from gateway.health import health
from sessions_app.api import node_views
from sessions_app.api import views as session_views

register_converter(PublicIdConverter, "id")

handler404 = "gateway.errors.handler404"
handler500 = "gateway.errors.handler500"

urlpatterns = [
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("sessions_app.api.urls")),
    path("api/send", session_views.MessageSendApi.as_view(), name="send-alias"),
    path("api/admin/", include("workers_app.api.urls")),
    path("api/webhooks/session-status", node_views.SessionStatusWebhook.as_view()),
    path("api/webhooks/message-status", node_views.MessageStatusWebhook.as_view()),
    path("api/webhooks/message-received", node_views.MessageReceivedWebhook.as_view()),
    path("api/webhooks/media", node_views.MediaUploadWebhook.as_view()),
    path("api/internal/media/<id:media_id>", node_views.NodeMediaDownload.as_view()),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("accounts.urls")),
    path("", include("sessions_app.urls")),
]
