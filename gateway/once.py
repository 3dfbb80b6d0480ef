"""Something a page shows once after a create form's redirect (post/redirect/get).

The POST keeps it in the server-side session (`show_once`) and redirects; the next page takes it
out (`take_once`), so a reload neither creates a second object nor shows it again, and it never
travels in a URL. A secret is held there only between the redirect and the page that shows it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

SESSION_KEY = "shown_once"


def show_once(request: HttpRequest, name: str, value: Any) -> None:
    """Keep `value` (JSON-serialisable) for the next page that calls `take_once(name)`."""
    store = request.session.get(SESSION_KEY, {})
    store[name] = value
    request.session[SESSION_KEY] = store


def take_once(request: HttpRequest, name: str) -> Any:
    """Return what `show_once` kept under `name` and forget it; None when nothing is kept."""
    store = request.session.get(SESSION_KEY)
    if not store or name not in store:
        return None
    value = store.pop(name)
    if store:
        request.session[SESSION_KEY] = store
    else:
        del request.session[SESSION_KEY]
    return value
