"""Dashboard pages for messages: send a test message from a session's page, watch its status.

The test message goes through the API's own service and payload builder (`message_submit`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from accounts.views import HtmxHttpRequest
from gateway.errors import GatewayError
from sessions_app.dashboard.common import not_found, with_session
from sessions_app.dashboard.forms import SendTestForm
from sessions_app.dashboard.sessions import MESSAGE_FINAL, detail_page, recent_messages
from sessions_app.errors import MessageNotFound
from sessions_app.messages.selectors import message_get
from sessions_app.messages.services import message_submit
from sessions_app.sessions.models import Session


@with_session
@require_http_methods(["GET", "POST"])
def session_messages(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    """GET: the recent-messages table (polled). POST: send a test text message."""
    if request.method == "GET":
        return render(request, "sessions_app/_messages.html", recent_messages(request, session))
    form = SendTestForm(request.POST, prefix="send")
    context: dict[str, Any] = {"session": session, "send_form": form, "send_error": ""}
    if form.is_valid():
        try:
            message, _ = message_submit(
                owner=request.user, session=session, api_key=None, values=form.send_values()
            )
        except GatewayError as exc:
            context["send_error"] = exc.message
        else:
            if not request.htmx:
                messages.info(request, f"Test message queued for +{message.to}.")
                return redirect("sessions:detail", session_id=session.id)
            # Keep the recipient for the next test; clear the text.
            context["send_form"] = SendTestForm(
                prefix="send", initial={"to": form.cleaned_data["to"]}
            )
            context["sent_message"] = message
            context["message_final"] = message.status in MESSAGE_FINAL
    if not request.htmx:
        return detail_page(request, session, send_form=form, send_error=context["send_error"])
    response = render(request, "sessions_app/_send_test.html", context)
    if "sent_message" in context:
        trigger_client_event(response, "message-sent")
    return response


@with_session
@require_GET
def message_status(request: HtmxHttpRequest, session: Session, message_id: str) -> HttpResponse:
    """One message's status, polled every second until it is read or failed."""
    try:
        message = message_get(owner=request.user, message_id=message_id)
    except MessageNotFound:
        return not_found(request)
    if message.session_id != session.id:
        return not_found(request)
    return render(
        request,
        "sessions_app/_message_status.html",
        {
            "session": session,
            "sent_message": message,
            "message_final": message.status in MESSAGE_FINAL,
        },
    )
