"""The WSGI entry point's two chains (gateway/wsgi.py): a keyed API request skips the browser
middleware; a dashboard call with its cookie keeps it. Called as gunicorn calls it."""

import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

from gateway import wsgi


def _serve(path, *, method="get", cookies=None, **headers):
    """Call gateway.wsgi.application; return (status, header dict, JSON body or None)."""
    if cookies:
        headers["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    environ = getattr(RequestFactory(), method)(path, **headers).environ
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    # As Django's test client does: the test's transaction holds the connection, so a request
    # must not close it when it starts or ends.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(wsgi.application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    kind = answer["headers"].get("Content-Type", "")
    return answer["status"], answer["headers"], json.loads(body) if "json" in kind else None


@pytest.mark.parametrize(
    ("path", "headers", "keyed"),
    [
        ("/api/v1/sessions", {"HTTP_AUTHORIZATION": "Bearer wag_x"}, True),
        ("/api/v1/sessions", {"HTTP_AUTHORIZATION": "bearer wag_x"}, True),
        ("/api/v1/sessions", {"HTTP_X_API_KEY": "wag_x"}, True),
        ("/api/webhooks/session-status", {"HTTP_AUTHORIZATION": "Bearer node"}, True),
        ("/api/v1/sessions", {}, False),
        ("/api/v1/sessions", {"HTTP_AUTHORIZATION": "Basic eDp5"}, False),
        ("/dashboard", {"HTTP_AUTHORIZATION": "Bearer wag_x"}, False),
    ],
)
def test_only_an_api_path_with_a_key_or_token_takes_the_api_chain(path, headers, keyed):
    environ = RequestFactory().get(path, **headers).environ
    assert wsgi.keyed_api_request(environ) is keyed


def test_a_keyed_request_is_served_without_the_browser_middleware(api_key, db):
    status, headers, body = _serve(
        "/api/v1/sessions", HTTP_AUTHORIZATION=f"Bearer {api_key.secret}"
    )
    assert status == 200, body
    assert body["success"] is True
    # What the browser chain adds: CSP and frame headers, the session's Vary: Cookie.
    assert "Content-Security-Policy" not in headers
    assert "X-Frame-Options" not in headers
    assert "Cookie" not in headers.get("Vary", "")
    assert headers["X-Content-Type-Options"] == "nosniff"  # the security middleware stays


def test_a_bad_key_is_still_401_on_the_api_chain(db):
    status, _, body = _serve("/api/v1/sessions", HTTP_AUTHORIZATION="Bearer wag_not_a_key")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_a_dashboard_call_with_its_session_cookie_keeps_the_browser_chain(client, user):
    client.force_login(user)
    cookie = {"sessionid": client.cookies["sessionid"].value}
    status, headers, body = _serve("/api/v1/sessions", cookies=cookie)
    assert status == 200, body
    assert "Content-Security-Policy" in headers
    # A write still needs the CSRF token on this chain.
    status, _, body = _serve("/api/v1/sessions", method="post", cookies=cookie)
    assert status == 403
