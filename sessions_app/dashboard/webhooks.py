"""Dashboard pages for webhooks: the list (create, enable/disable, rotate, delete) and a log.

Creating a webhook or rotating its secret redirects to the list, which shows that secret once
(the endpoint's id waits in the session, gateway.once): a reload creates nothing and shows nothing.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.views import HtmxHttpRequest, dashboard_login_required
from gateway.errors import GatewayError
from gateway.once import show_once, take_once
from sessions_app.dashboard.common import not_found, with_endpoint
from sessions_app.dashboard.forms import EventFilter, WebhookCreateForm
from sessions_app.errors import WebhookDeliveryNotFound
from sessions_app.webhooks import endpoints, events, selectors
from sessions_app.webhooks.models import WebhookDelivery, WebhookEndpoint

ISSUED = "webhook_secret_of"


def _page(request: HtmxHttpRequest, form: WebhookCreateForm, *, status: int = 200) -> HttpResponse:
    endpoints = list(selectors.endpoint_list(owner=request.user).select_related("session"))
    issued_id = take_once(request, ISSUED) if request.method == "GET" else None
    issued = next((endpoint for endpoint in endpoints if endpoint.id == issued_id), None)
    context = {"form": form, "endpoints": endpoints, "issued": issued}
    response = render(request, "sessions_app/webhooks/list.html", context, status=status)
    if issued is not None:
        add_never_cache_headers(response)  # the one page that shows the secret
    return response


def _show_secret_of(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    show_once(request, ISSUED, endpoint.id)
    return redirect("sessions:webhooks")


@dashboard_login_required
@require_http_methods(["GET", "POST"])
def webhook_list_view(request: HtmxHttpRequest) -> HttpResponse:
    """List the user's webhooks; a POST registers one and redirects here to show its secret."""
    form = WebhookCreateForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = endpoints.endpoint_create(
                owner=request.user,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                session=form.cleaned_data["session"],
                hub_signature=form.cleaned_data["hub_signature"],
            )
        except GatewayError as exc:
            form.add_error("url", exc.message)
            return _page(request, form, status=400)
        messages.success(request, "Webhook added.")
        return _show_secret_of(request, endpoint)
    return _page(request, form, status=400 if form.errors else 200)


@with_endpoint
@require_POST
def webhook_toggle_view(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    """Enable a disabled webhook or disable an enabled one."""
    enable = not endpoint.enabled
    endpoints.endpoint_update(owner=request.user, endpoint=endpoint, enabled=enable)
    messages.success(request, "Webhook enabled." if enable else "Webhook disabled.")
    return redirect("sessions:webhooks")


@with_endpoint
@require_POST
def webhook_rotate_view(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    """Rotate a webhook's secret; the list shows the new one once."""
    endpoint = endpoints.endpoint_rotate_secret(owner=request.user, endpoint=endpoint)
    return _show_secret_of(request, endpoint)


@with_endpoint
@require_POST
def webhook_delete_view(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    """Delete a webhook with its delivery log."""
    endpoints.endpoint_delete(owner=request.user, endpoint=endpoint)
    messages.success(request, "Webhook deleted.")
    return redirect("sessions:webhooks")


@with_endpoint
@require_GET
def webhook_deliveries_view(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    """Show a webhook's newest deliveries, filtered by event type and status, each with its
    payload and every attempt's answer."""
    filters = EventFilter(
        request.GET, owner=request.user, statuses=list(WebhookDelivery.Status.choices)
    )
    deliveries = selectors.delivery_list(
        endpoint=endpoint,
        status=filters.value("status") or None,
        event_type=filters.value("type") or None,
        limit=100,
    )
    for delivery in deliveries:
        delivery.payload_json = json.dumps(delivery.event.payload, indent=2, ensure_ascii=False)
    return render(
        request,
        "sessions_app/webhooks/deliveries.html",
        {"endpoint": endpoint, "deliveries": deliveries, "filters": filters},
    )


@with_endpoint
@require_POST
def webhook_test_view(request: HtmxHttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    """Send a `webhook.test` event to this webhook now; its delivery shows in the log."""
    try:
        events.test_event_send(owner=request.user, endpoint=endpoint)
        messages.success(request, "Test event sent: its delivery is at the top of the log.")
    except GatewayError as exc:
        messages.error(request, exc.message)
    return redirect("sessions:webhook_deliveries", webhook_id=endpoint.id)


@with_endpoint
@require_POST
def webhook_replay_view(
    request: HtmxHttpRequest, endpoint: WebhookEndpoint, delivery_id: str
) -> HttpResponse:
    """Replay one delivery now (same event id); errors are shown as a message."""
    try:
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        events.delivery_replay(owner=request.user, delivery=delivery)
        messages.success(request, "Replay queued.")
    except WebhookDeliveryNotFound:
        return not_found(request)
    except GatewayError as exc:
        messages.error(request, exc.message)
    return redirect("sessions:webhook_deliveries", webhook_id=endpoint.id)
