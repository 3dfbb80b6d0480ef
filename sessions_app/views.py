"""Dashboard pages for sessions: the list, one session's live status panel, test messages.

Views stay thin: forms validate, services act, and a domain error (`GatewayError`) is shown on
the page as its message. Actions on the detail page answer htmx with the re-rendered status
panel; without htmx they redirect back to the page (or re-render it with the error).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.views import HtmxHttpRequest, dashboard_login_required
from gateway.errors import GatewayError, MessageNotFound, SessionNotFound
from sessions_app.api.serializers import qr_current
from sessions_app.forms import ConnectForm, SandboxIncomingForm, SendTestForm, SessionCreateForm
from sessions_app.models import OutboundMessage, Session
from sessions_app.reasons import reason_text
from sessions_app.selectors import message_get, message_list, session_get, session_list
from sessions_app.services import (
    message_send,
    sandbox_action,
    sandbox_scan,
    session_connect,
    session_create,
    session_delete,
    session_disconnect,
    session_logout,
)

S = Session.Status
STARTABLE = {S.DISCONNECTED, S.LOGGED_OUT, S.FAILED}
MESSAGE_FINAL = {OutboundMessage.Status.READ, OutboundMessage.Status.FAILED}
RECENT_MESSAGES = 20

SessionView = Callable[..., HttpResponse]


def _not_found(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "not_found.html", status=404)


def with_session(view: SessionView) -> SessionView:
    """Log-in-required view of one of the user's sessions; another user's id is a 404 page."""

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, session_id: str, **kwargs: Any) -> HttpResponse:
        try:
            session = session_get(owner=request.user, session_id=session_id)
        except SessionNotFound:
            return _not_found(request)
        return view(request, session, **kwargs)

    return dashboard_login_required(wrapper)


# --- The list ---------------------------------------------------------------------------------


def _list_page(request: HtmxHttpRequest, form: SessionCreateForm) -> HttpResponse:
    sessions = session_list(owner=request.user)
    return render(request, "sessions_app/list.html", {"sessions": sessions, "form": form})


@dashboard_login_required
@require_GET
def session_list_view(request: HtmxHttpRequest) -> HttpResponse:
    return _list_page(request, SessionCreateForm())


@dashboard_login_required
@require_GET
def session_rows(request: HtmxHttpRequest) -> HttpResponse:
    """The list's table body, polled every 2 s."""
    sessions = session_list(owner=request.user)
    return render(request, "sessions_app/_session_rows.html", {"sessions": sessions})


@dashboard_login_required
@require_POST
def session_create_view(request: HtmxHttpRequest) -> HttpResponse:
    form = SessionCreateForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form)
    session = session_create(
        owner=request.user, name=form.cleaned_data["name"], engine=form.cleaned_data["engine"]
    )
    return redirect("sessions:detail", session_id=session.id)


# --- One session: the status panel -----------------------------------------------------------


def _panel_token(session: Session) -> str:
    """Return what the status panel shows, in short: a poll with the same token needs no swap."""
    return f"{session.status}.{session.updated_at.timestamp():.6f}.{int(qr_current(session))}"


def _panel_context(session: Session, **extra: Any) -> dict[str, Any]:
    is_sandbox = session.engine == Session.Engine.SANDBOX
    now = timezone.now()
    expires_in_s = 0
    if session.qr_expires_at:
        expires_in_s = max(0, int((session.qr_expires_at - now).total_seconds()))
    context = {
        "session": session,
        "reason_text": reason_text(session.status_reason),
        "token": _panel_token(session),
        # Poll fast while something is about to happen, slowly once linked.
        "poll_s": 5 if session.status == S.CONNECTED else 1,
        "is_sandbox": is_sandbox,
        "can_connect": session.status in STARTABLE,
        # A FAILED session may still be retrying on its node (e.g. whatsapp_unreachable).
        "can_disconnect": session.status not in STARTABLE
        or (session.status == S.FAILED and bool(session.worker_id)),
        "can_logout": session.status != S.LOGGED_OUT and bool(session.worker_id),
        "can_scan": is_sandbox and session.status in (S.QR_REQUIRED, S.PAIRING),
        "is_connected": session.status == S.CONNECTED,
        "qr_current": qr_current(session),
        "qr_expires_in_s": expires_in_s,
        "now": now,
        "connect_form": ConnectForm(),
        "incoming_form": SandboxIncomingForm(prefix="incoming"),
        "send_form": SendTestForm(prefix="send"),
        "error": "",
        "notice": "",
    }
    context.update(extra)
    return context


def _recent_messages(request: HtmxHttpRequest, session: Session) -> dict[str, Any]:
    recent = message_list(owner=request.user, session=session, limit=RECENT_MESSAGES)
    return {
        "session": session,
        "messages_list": recent,
        "messages_pending": any(m.status not in MESSAGE_FINAL for m in recent),
    }


def _detail_page(request: HtmxHttpRequest, session: Session, **extra: Any) -> HttpResponse:
    context = _panel_context(session, **extra)
    context.update(_recent_messages(request, session))
    return render(request, "sessions_app/detail.html", context)


def _panel_response(
    request: HtmxHttpRequest, session: Session, *, failed: bool = False, **extra: Any
) -> HttpResponse:
    """Answer an action: htmx gets the fresh panel; a plain POST is redirected (PRG) or, when
    it failed, gets the whole page with the error."""
    session = session_get(owner=request.user, session_id=session.id)
    if request.htmx:
        return render(request, "sessions_app/_status_panel.html", _panel_context(session, **extra))
    if failed:
        return _detail_page(request, session, **extra)
    if extra.get("notice"):
        messages.info(request, extra["notice"])
    return redirect("sessions:detail", session_id=session.id)


@with_session
@require_GET
def session_detail(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    return _detail_page(request, session)


@with_session
@require_GET
def session_status(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    """The status panel, polled. 204 (htmx swaps nothing) while nothing changed, so a form the
    user is typing in is not replaced under their fingers."""
    if request.GET.get("v") == _panel_token(session):
        return HttpResponse(status=204)
    return render(request, "sessions_app/_status_panel.html", _panel_context(session))


@with_session
@require_POST
def session_connect_view(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    form = ConnectForm(request.POST)
    if not form.is_valid():
        return _panel_response(request, session, failed=True, connect_form=form)
    try:
        session_connect(
            owner=request.user,
            session=session,
            method=form.cleaned_data["method"],
            phone_number=form.cleaned_data["phone_number"],
        )
    except GatewayError as exc:
        return _panel_response(request, session, failed=True, connect_form=form, error=exc.message)
    return _panel_response(request, session)


def _panel_action(
    request: HtmxHttpRequest, session: Session, service: Callable[..., Any]
) -> HttpResponse:
    """Run a session service that takes only owner and session; answer with the panel."""
    try:
        service(owner=request.user, session=session)
    except GatewayError as exc:
        return _panel_response(request, session, failed=True, error=exc.message)
    return _panel_response(request, session)


@with_session
@require_POST
def session_disconnect_view(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    return _panel_action(request, session, session_disconnect)


@with_session
@require_POST
def session_logout_view(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    return _panel_action(request, session, session_logout)


@with_session
@require_POST
def session_delete_view(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    try:
        session_delete(owner=request.user, session=session)
    except GatewayError as exc:
        return _panel_response(request, session, failed=True, error=exc.message)
    messages.success(request, f"Session “{session.name}” deleted.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("sessions:list"))
    return redirect("sessions:list")


# --- Sandbox phone ---------------------------------------------------------------------------


@with_session
@require_POST
def sandbox_scan_view(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    try:
        sandbox_scan(owner=request.user, session=session)
    except GatewayError as exc:
        return _panel_response(request, session, failed=True, error=exc.message)
    what = "scanned the QR code" if session.status == S.QR_REQUIRED else "entered the code"
    return _panel_response(request, session, notice=f"The sandbox phone {what}.")


@with_session
@require_POST
def sandbox_incoming_view(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    form = SandboxIncomingForm(request.POST, prefix="incoming")
    if not form.is_valid():
        return _panel_response(request, session, failed=True, incoming_form=form)
    sender = form.cleaned_data["sender"]
    try:
        sandbox_action(
            owner=request.user,
            session=session,
            action="incoming",
            params={"from": sender, "type": "text", "text": form.cleaned_data["text"]},
        )
    except GatewayError as exc:
        return _panel_response(request, session, failed=True, incoming_form=form, error=exc.message)
    return _panel_response(request, session, notice=f"Simulated a message from +{sender}.")


@with_session
@require_POST
def sandbox_logout_view(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    try:
        sandbox_action(owner=request.user, session=session, action="logout", params={})
    except GatewayError as exc:
        return _panel_response(request, session, failed=True, error=exc.message)
    return _panel_response(request, session, notice="The sandbox phone logged this device out.")


# --- Messages --------------------------------------------------------------------------------


@with_session
@require_http_methods(["GET", "POST"])
def session_messages(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    """GET: the recent-messages table (polled). POST: send a test text message."""
    if request.method == "GET":
        return render(request, "sessions_app/_messages.html", _recent_messages(request, session))
    form = SendTestForm(request.POST, prefix="send")
    context: dict[str, Any] = {"session": session, "send_form": form, "send_error": ""}
    if form.is_valid():
        assert form.recipient is not None
        try:
            message, _ = message_send(
                owner=request.user,
                session=session,
                api_key=None,
                to=form.recipient.to,
                chat_jid=form.recipient.chat_jid,
                payload={"type": "text", "text": form.cleaned_data["text"]},
                idempotency_key=None,
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
        return _detail_page(request, session, send_form=form, send_error=context["send_error"])
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
        return _not_found(request)
    if message.session_id != session.id:
        return _not_found(request)
    return render(
        request,
        "sessions_app/_message_status.html",
        {
            "session": session,
            "sent_message": message,
            "message_final": message.status in MESSAGE_FINAL,
        },
    )
