"""Dashboard pages of the people and groups a session knows: its groups (search, pages), one
group's members, its contacts (search, pages). Each asks the session's node (the same calls as
the API); a row's "Send a message" opens the session's test-message form addressed to it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.views import HtmxHttpRequest
from gateway.errors import GatewayError
from node_agent.groups import group_jid
from node_agent.protocol import ContactCall
from sessions_app.calls import session_call
from sessions_app.dashboard.common import not_found, with_session
from sessions_app.dashboard.forms import DashboardForm
from sessions_app.errors import GroupNotFound
from sessions_app.groups.services import group_call
from sessions_app.sessions.models import Session

PAGE = 50


class PeopleFilter(DashboardForm):
    """A list's search (GET): a part of the subject, name or number, and the page."""

    q = forms.CharField(label="Search", max_length=100, required=False)
    offset = forms.IntegerField(min_value=0, max_value=10**9, required=False)


def _page(request: HtmxHttpRequest, ask: Any, key: str) -> dict[str, Any]:
    """Run `ask(limit, offset, query)`; return the list page's context (`problem` on failure)."""
    search = PeopleFilter(request.GET)
    given = search.cleaned_data if search.is_valid() else {}
    offset, query = given.get("offset") or 0, given.get("q") or ""
    rows, total, problem = [], 0, ""
    try:
        answer = ask(limit=PAGE, offset=offset, query=query)
        rows, total = answer[key], answer["total"]
    except GatewayError as exc:  # not connected, the node is down or slow: say so
        problem = exc.message
    return {
        "search": search,
        "rows": rows,
        "total": total,
        "problem": problem,
        "query": query,
        "newer": max(offset - PAGE, 0) if offset else None,
        "older": offset + PAGE if offset + PAGE < total else None,
    }


@with_session
@require_GET
def session_groups(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    """The session's groups, by subject, 50 to a page."""
    context = _page(
        request, lambda **page: group_call(session=session, op="list", **page), "groups"
    )
    return render(request, "sessions_app/groups.html", {"session": session, **context})


@with_session
@require_GET
def session_group(request: HtmxHttpRequest, session: Session, group_id: str) -> HttpResponse:
    """One group: its settings and members with their roles."""
    jid = group_jid(group_id)
    if jid is None:
        return not_found(request)
    info, problem = None, ""
    try:
        info = group_call(session=session, op="info", group=jid)
    except GroupNotFound:
        return not_found(request)
    except GatewayError as exc:
        problem = exc.message
    return render(
        request, "sessions_app/group.html", {"session": session, "group": info, "problem": problem}
    )


@with_session
@require_GET
def session_contacts(request: HtmxHttpRequest, session: Session) -> HttpResponse:
    """The session's contacts, by name, 50 to a page."""

    def ask(**page: Any) -> Any:
        task = ContactCall(session_id=session.id, op="list", params=page)
        return session_call(session=session, task=task)

    context = _page(request, ask, "contacts")
    return render(request, "sessions_app/contacts.html", {"session": session, **context})
