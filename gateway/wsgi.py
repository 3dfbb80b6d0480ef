"""WSGI entry point (gunicorn gateway.wsgi).

Two middleware chains share one Django: a request to `/api/…` that carries a key or token
(`X-API-Key`, or `Authorization: Bearer …`) is authenticated by that header alone, so it skips
what only a browser needs (static files, sessions, CSRF, auth from the session cookie, messages,
htmx, the login lockout, CSP and frame headers on a JSON answer) and goes through
API_MIDDLEWARE (settings: the body limits, then Django's security middleware). Everything else,
the dashboard's calls with their session cookie included, goes through MIDDLEWARE. The browser
chain cost the API a fifth of its time per request (`../shared/bench/compare.sh`).
"""

import os

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
browser_application = get_wsgi_application()


class KeyedApiHandler(WSGIHandler):
    """A Django WSGI handler whose middleware chain is settings.API_MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler builds its chain from settings.MIDDLEWARE; it is lent the API's list
        # while it does (once, at import, before any request is served).
        browser = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = browser


api_application = KeyedApiHandler()


def keyed_api_request(environ: dict) -> bool:
    """Whether a WSGI request goes through the API chain: an `/api/` path with an `X-API-Key`
    header or a Bearer `Authorization` (an API key or a node credential)."""
    if not environ.get("PATH_INFO", "").startswith("/api/"):
        return False
    if environ.get("HTTP_X_API_KEY"):
        return True
    return environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "


def application(environ: dict, start_response):  # noqa: ANN201 (WSGI's own signature)
    """Serve one WSGI request through the chain it needs (module docstring)."""
    if keyed_api_request(environ):
        return api_application(environ, start_response)
    return browser_application(environ, start_response)
