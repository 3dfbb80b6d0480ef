"""What every dashboard page of one object shares: the object looked up for its owner, or a 404.

Another user's id is simply not found (the same page as an id that never existed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render

from accounts.views import HtmxHttpRequest, dashboard_login_required
from sessions_app.errors import SessionNotFound, WebhookNotFound
from sessions_app.sessions.selectors import session_get
from sessions_app.webhooks.selectors import endpoint_get

View = Callable[..., HttpResponse]


def not_found(request: HtmxHttpRequest) -> HttpResponse:
    """Answer the dashboard's 404 page."""
    return render(request, "not_found.html", status=404)


def _of_owner(
    url_kwarg: str, lookup: Callable[[Any, str], Any], missing: type[Exception]
) -> Callable[[View], View]:
    """Return a decorator: the view gets the user's object named by `url_kwarg` (log-in needed)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HtmxHttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                found = lookup(request.user, kwargs.pop(url_kwarg))
            except missing:
                return not_found(request)
            return view(request, found, **kwargs)

        return dashboard_login_required(wrapper)

    return decorate


with_session = _of_owner(
    "session_id", lambda owner, id_: session_get(owner=owner, session_id=id_), SessionNotFound
)
with_session.__doc__ = "Decorate a view of one of the user's sessions (it gets the Session)."
with_endpoint = _of_owner(
    "webhook_id", lambda owner, id_: endpoint_get(owner=owner, endpoint_id=id_), WebhookNotFound
)
with_endpoint.__doc__ = "Decorate a view of one of the user's webhooks (it gets the endpoint)."
