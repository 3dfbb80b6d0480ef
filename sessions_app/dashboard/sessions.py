"""Dashboard pages for sessions: the list, one session's live status panel, the sandbox phone.

Views stay thin: forms validate, services act, and a domain error (`GatewayError`) is shown on
the page as its message. Actions on the detail page answer htmx with the re-rendered status
panel; without htmx they redirect back to the page (or re-render it with the error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.views import HtmxHttpRequest, dashboard_login_required
from gateway.errors import GatewayError
from sessions_app.dashboard.common import with_session
from sessions_app.dashboard.forms import (
    ConnectForm,
    SandboxIncomingForm,
    SendTestForm,
    SessionCreateForm,
)
from sessions_app.dashboard.getting_started import getting_started
from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.selectors import message_list
from sessions_app.reasons import reason_text
from sessions_app.sessions import status
from sessions_app.sessions.models import Session
from sessions_app.sessions.sandbox import sandbox_action, sandbox_incoming, sandbox_scan
from sessions_app.sessions.selectors import engine_suggested, session_get, session_list
from sessions_app.sessions.services import (
    session_connect,
    session_create,
    session_delete,
    session_disconnect,
    session_logout,
)

S = Session.Status
MESSAGE_FINAL = frozenset({OutboundMessage.Status.READ, OutboundMessage.Status.FAILED})
RECENT_MESSAGES = 20

# --- The list ---------------------------------------------------------------------------------


def _list_page(
    request: HtmxHttpRequest, form: SessionCreateForm, status_code: int = 200
) -> HttpResponse:
    sessions = list(session_list(owner=request.user))
    guide = getting_started(request, sessions)
    context = {"sessions": sessions, "form": form, "guide": guide}
    response = render(request, "sessions_app/list.html", context, status=status_code)
    if guide and guide["key"]:
        add_never_cache_headers(response)  # the one page that shows the new key
    return response


@dashboard_login_required
@require_GET
def session_list_view(request: HtmxHttpRequest) -> HttpResponse:
    """The user's sessions; New session preselects the engine that can work here."""
    return _list_page(request, SessionCreateForm(initial={"engine": engine_suggested()}))


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
        return _list_page(request, form, status_code=400)
    session = session_create(
        owner=request.user, name=form.cleaned_data["name"], engine=form.cleaned_data["engine"]
    )
    return redirect("sessions:detail", session_id=session.id)


# --- One session: the status panel -----------------------------------------------------------


def _panel_token(session: Session) -> str:
    """Return what the status panel shows, in short: a poll with the same token needs no swap."""
    qr = int(status.qr_current(session))
    return f"{session.status}.{session.updated_at.timestamp():.6f}.{qr}"


def _panel_context(session: Session, **extra: Any) -> dict[str, Any]:
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
        "is_sandbox": session.engine == Session.Engine.SANDBOX,
        "can_connect": status.can_connect(session),
        "can_disconnect": status.can_disconnect(session),
        "can_logout": status.can_logout(session),
        "can_scan": status.can_scan(session),
        "is_connected": session.status == S.CONNECTED,
        "qr_current": status.qr_current(session),
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


def recent_messages(request: HtmxHttpRequest, session: Session) -> dict[str, Any]:
    """Return the context of the recent-messages table: the last RECENT_MESSAGES sent."""
    recent = message_list(owner=request.user, session=session, limit=RECENT_MESSAGES)
    return {
        "session": session,
        "messages_list": recent,
        "messages_pending": any(m.status not in MESSAGE_FINAL for m in recent),
    }


def detail_page(request: HtmxHttpRequest, session: Session, **extra: Any) -> HttpResponse:
    """Render one session's whole page (panel, test message form, recent messages)."""
    to = request.GET.get("to", "")[:100]
    if to and "send_form" not in extra:  # "Send a message" of a group or contact row
        extra["send_form"] = SendTestForm(prefix="send", initial={"to": to})
    context = _panel_context(session, **extra)
    context.update(recent_messages(request, session))
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
        return detail_page(request, session, **extra)
    if extra.get("notice"):
        messages.info(request, extra["notice"])
    return redirect("sessions:detail", session_id=session.id)


@with_session
@require_GET
def session_detail(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    return detail_page(request, session)


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
        sandbox_incoming(
            owner=request.user,
            session=session,
            message={"from": sender, "type": "text", "text": form.cleaned_data["text"]},
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
