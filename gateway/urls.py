"""URL map: dashboard, Django admin, public API (/api/v1), node reports, OpenAPI, /health and
/metrics."""

from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing.overview import overview
from gateway.converters import GroupJidConverter, PublicIdConverter
from gateway.health import health
from gateway.metrics_web import metrics
from sessions_app.messages.api.views import MessageSendApi

register_converter(PublicIdConverter, "id")
register_converter(GroupJidConverter, "group")

handler404 = "gateway.errors.handler404"
handler500 = "gateway.errors.handler500"

urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("admin/overview", admin.site.admin_view(overview), name="admin-overview"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("sessions_app.api_urls")),
    path("api/v1/", include("billing.api.public_urls")),
    path("api/send", MessageSendApi.as_view(), name="send-alias"),
    path("api/admin/", include("workers_app.api.urls")),
    path("api/", include(("sessions_app.reports.api.urls", "node_reports"))),
    path("api/", include("billing.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("accounts.urls")),
    path("", include("sessions_app.dashboard.urls")),
    path("", include("billing.urls")),
]
