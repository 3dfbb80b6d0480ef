"""The tenants' billing routes under `/api/v1/`."""

from django.urls import path

from billing.api.usage import UsageApi

app_name = "api_billing"

urlpatterns = [path("usage", UsageApi.as_view(), name="usage")]
