"""Dashboard pages of a user's traffic: a session's message log and the live event monitor.

The message log is the session's history in both directions, asked from its node (the node
keeps messages; the backend keeps only the outbound ledger), newest first, 50 to a page, with
search. The event monitor shows the events a webhook would get, with their payloads, as they
happen: while it is open, every event of the user is stored (sessions_app.webhooks.monitor).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from accounts.views import HtmxHttpRequest, dashboard_login_required
from gateway.errors import GatewayError
from sessions_app.dashboard.common import with_session
from sessions_app.dashboard.forms import EventFilter, MessageLogFilter
from sessions_app.errors import SessionHasNoNode
from sessions_app.messages.selectors import message_history
from sessions_app.sessions.models import Session
from sessions_app.webhooks.models import EVENT_TYPES, WebhookEvent
from sessions_app.webhooks.monitor import monitor_watch
from sessions_app.webhooks.selectors import event_list
from sessions_app.webhooks.stream import STREAM_PATH

LOG_PAGE = 50


def summary(item: dict[str, Any]) -> str:
    """One line for a history item: its text or caption, else what it carries."""
    content = item.get("content") or {}
    if content.get("text"):
        return str(content["text"])
    media = content.get("media") or {}
    if isinstance(media, dict) and media:
        return str(media.get("filename") or media.get("mimetype") or "(file)")
    for key, shown in (("location", "name"), ("contact", "name"), ("reaction", "emoji")):
        value = content.get(key)
        if isinstance(value, dict):
            return str(value.get(shown) or key)
    return ""


def _log_row(item: dict[str, Any]) -> dict[str, Any]:
    peer = item.get("from") if item.get("direction") == "in" else item.get("chatId")
    return {
        **item,
        "when": parse_datetime(str(item.get("createdAt") or "")),
        "peer": peer or item.get("chatId") or "",
        "summary": summary(item),
    }


@with_session
@require_GET
def message_log(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    """A session's messages, both ways, newest first; the first page refreshes itself."""
    search = MessageLogFilter(request.GET)
    page = search.cleaned_data if search.is_valid() else {}
    before = page.get("before") or 0
    rows, problem = [], ""
    try:
        items = message_history(
            owner=request.user,
            session=session,
            limit=LOG_PAGE,
            before=before,
            newest_first=True,
            direction=page.get("direction") or "",
            query=page.get("q") or "",
        )
        rows = [_log_row(item) for item in items]
    except SessionHasNoNode:
        problem = "This session has not been on a node yet: connect it, and its messages show here."
    except GatewayError as exc:  # the node is down or slow: say so, keep the page
        problem = exc.message
    context = {
        "session": session,
        "search": search,
        "rows": rows,
        "problem": problem,
        "live": not before,
        "older": rows[-1]["cursor"] if len(rows) == LOG_PAGE else None,
        "query_string": request.GET.urlencode(),
    }
    template = "_message_log_rows.html" if request.htmx else "message_log.html"
    return render(request, f"sessions_app/{template}", context)


def _event_row(event: WebhookEvent) -> dict[str, Any]:
    return {
        "event": event,
        "payload_json": json.dumps(event.payload, indent=2, ensure_ascii=False),
    }


def _monitor_context(request: HtmxHttpRequest, after: datetime | None) -> dict[str, Any]:
    filters = EventFilter(request.GET, owner=request.user, statuses=[])
    session = filters.value("session")
    events = event_list(
        owner=request.user,
        session_id=session.id if session else None,
        event_type=filters.value("type") or None,
        after=after,
    )
    # The next poll asks for what comes after the newest shown (or after now, with none yet).
    newest = events[0].created_at if events else (after or timezone.now())
    params = request.GET.copy()
    params.pop("after", None)
    return {
        "filters": filters,
        "rows": [_event_row(event) for event in events],
        "newest": newest.isoformat(),
        "filter_query": params.urlencode(),
    }


@dashboard_login_required
@require_GET
def event_monitor(request: HtmxHttpRequest) -> HttpResponse:
    """The live event monitor: the newest events, then each new one as it happens."""
    monitor_watch(request.user.pk)
    context = _monitor_context(request, None)
    # The page learns of each new event from the live stream (with its login) and asks the feed.
    context["stream_url"] = settings.STREAM_URL + STREAM_PATH
    context["event_types"] = ",".join(EVENT_TYPES)
    return render(request, "sessions_app/events.html", context)


@dashboard_login_required
@require_GET
def event_feed(request: HtmxHttpRequest) -> HttpResponse:
    """The monitor's poll: the events after `after` (204 when none), and the next poll."""
    monitor_watch(request.user.pk)
    after = parse_datetime(request.GET.get("after", "")) if request.GET.get("after") else None
    context = _monitor_context(request, after)
    if after is not None and not context["rows"]:
        return HttpResponse(status=204)
    return render(request, "sessions_app/_event_feed.html", context)
