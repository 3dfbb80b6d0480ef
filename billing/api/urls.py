"""The node's billing route under /api/ (its path is `node_agent.protocol.USAGE_REPORT_PATH`)."""

from django.urls import path

from billing.api.views import UsageReportApi

app_name = "node_usage"

urlpatterns = [path("webhooks/usage-report", UsageReportApi.as_view(), name="usage-report")]
