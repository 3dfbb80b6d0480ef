"""The event stream's HTTP app (ASGI, served by uvicorn: gateway/asgi.py).

`GET /api/v1/events/stream` — Server-Sent Events (text/event-stream) of the caller's events, the
same JSON bodies webhooks receive: each frame is `id: <event id>`, `event: <type>`, `data:
<the event>`, with a comment every STREAM_PING_S to keep proxies from closing it.

- Authentication: an API key (`Authorization: Bearer wag_…` or `X-API-Key`), as the REST API.
  A key bound to a session streams only that session's events; an unbound key every session's
  and the account's own (usage.threshold). The dashboard's monitor page comes with its login
  (the session cookie), from the dashboard's own origin only (PUBLIC_URL, CSRF_TRUSTED_ORIGINS),
  which gets CORS headers with credentials: the stream may be on another port.
- `?types=message.received,message.status` (default `*`: all but session.qr, as webhooks);
  `?sessionId=` one session only (another's, or outside the key's, is 404).
- Resume: `Last-Event-ID: <id>` (what EventSource sends by itself on reconnecting; or
  `?lastEventId=`): first every event after that one, then live. An id the stream does not know
  (older than STREAM_KEEP_S after the last stream client, pruned, or not yours) is 400
  `unknown_last_event_id`.
- The first stream of a user begins (its 200) up to a second after it is asked for: only then
  does every process store all of the user's events (webhooks/monitor.py), and from its first
  byte on the stream misses none.
- A client that reads too slowly (STREAM_QUEUE_MAX events behind) gets an event
  `stream.overflow` and its stream ends; it reconnects with its last id and misses nothing.

Errors before the stream begins answer the REST API's failure envelope: 401 `unauthorized` or
`account_suspended`, 429 `rate_limited` (failed keys from the address) or `too_many_streams`
(STREAM_CLIENTS_PER_USER), 400 `validation_error` (an unknown type) or
`unknown_last_event_id`, 404 `session_not_found`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest
from rest_framework import exceptions as drf_exceptions
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from accounts.authentication import api_key_check, api_key_secret
from gateway.errors import GatewayError, error_body
from sessions_app.errors import TooManyStreams, UnknownLastEventId
from sessions_app.sessions.selectors import session_get
from sessions_app.webhooks.models import ALL_EVENTS, EVENT_TYPES
from sessions_app.webhooks.monitor import MEMO_S
from sessions_app.webhooks.stream import STREAM_PATH, selectors
from sessions_app.webhooks.stream.hub import OVERFLOW, Subscriber, hub

PATH = STREAM_PATH
REPLAY_PAGE = 500
ID_MAX = 64


class Unauthorized(GatewayError):
    code = "unauthorized"
    message = "Authentication credentials were not provided."
    http_status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="api"'}


class BadTypes(GatewayError):
    code = "validation_error"
    message = "Unknown event type."


def dashboard_origins() -> set[str]:
    """The origins the dashboard is served from: PUBLIC_URL's and CSRF_TRUSTED_ORIGINS."""
    public = urlsplit(settings.PUBLIC_URL)
    return {f"{public.scheme}://{public.netloc}", *settings.CSRF_TRUSTED_ORIGINS}


def _dashboard_user(request: Request) -> Any:
    """Return the user logged in to the dashboard with this request's session cookie (only
    from the dashboard's origin, or with no Origin), else None."""
    origin = request.headers.get("origin")
    key = request.cookies.get(settings.SESSION_COOKIE_NAME)
    if not key or (origin and origin not in dashboard_origins()):
        return None
    django_request = HttpRequest()
    django_request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user = get_user(django_request)
    if not user.is_authenticated or getattr(user, "suspended_at", None) is not None:
        return None
    return user


def _authenticate(request: Request) -> tuple[Any, Any]:
    """Return (owner, ApiKey or None for a dashboard login). Raises GatewayError."""
    secret = api_key_secret(request.headers)
    if not secret:
        user = _dashboard_user(request)
        if user is None:
            raise Unauthorized()
        return user, None
    address = request.client.host if request.client else "unknown"
    try:
        api_key = api_key_check(secret, address)
    except drf_exceptions.AuthenticationFailed as exc:
        raise Unauthorized(str(exc.detail)) from exc
    return api_key.owner, api_key


def _types(request: Request) -> list[str]:
    asked = [t.strip() for t in request.query_params.get("types", ALL_EVENTS).split(",")]
    asked = [t for t in asked if t]
    unknown = [t for t in asked if t != ALL_EVENTS and t not in EVENT_TYPES]
    if unknown or not asked:
        problems = [f"Unknown event type: {t[:40]!r}." for t in unknown] or ["Name a type."]
        raise BadTypes(fields={"types": problems})
    return asked


def _open(request: Request) -> tuple[Subscriber, selectors.Position | None]:
    """Check the request (in a thread: it reads the database); return its subscriber and the
    position to resume after. Raises GatewayError."""
    owner, api_key = _authenticate(request)
    session_id = (api_key.session_id if api_key else None) or None
    asked = request.query_params.get("sessionId")
    if asked:
        session_id = session_get(owner=owner, session_id=asked[:ID_MAX], api_key=api_key).id
    types = _types(request)
    last = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    position = None
    if last:
        position = selectors.event_position(owner_id=owner.id, event_id=last.strip()[:ID_MAX])
        if position is None:
            raise UnknownLastEventId()
    return Subscriber(owner_id=owner.id, session_id=session_id, types=types), position


def _cors(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin or origin not in dashboard_origins():
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


async def stream(request: Request) -> Any:
    cors = _cors(request)
    try:
        subscriber, position = await sync_to_async(_open)(request)
        if hub.count(subscriber.owner_id) >= settings.STREAM_CLIENTS_PER_USER:
            raise TooManyStreams()
    except GatewayError as exc:
        body = error_body(exc.code, exc.message, exc.fields)
        return JSONResponse(body, exc.http_status, {**exc.headers, **cors})
    if await hub.subscribe(subscriber):
        # Nobody watched this user's events: every process stores them within MEMO_S, so the
        # stream begins once they do, and misses none from its first byte on.
        await asyncio.sleep(MEMO_S)
    return EventSourceResponse(
        _frames(subscriber, position),
        ping=settings.STREAM_PING_S,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **cors},
    )


def _frame(row: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(row["payload"]), event=row["type"], id=row["id"])


async def _frames(
    subscriber: Subscriber, position: selectors.Position | None
) -> AsyncIterator[ServerSentEvent]:
    """The client's events: those after `position` from the database, then the live ones
    (each once: the live queue already holds some the replay sent)."""
    sent: set[str] = set()
    try:
        while position is not None:
            rows = await sync_to_async(selectors.events_of_owner_after)(
                owner_id=subscriber.owner_id,
                session_id=subscriber.session_id,
                after=position,
                limit=REPLAY_PAGE,
            )
            for row in rows:
                sent.add(row["id"])
                if subscriber.wants(row):
                    yield _frame(row)
            position = (rows[-1]["created_at"], rows[-1]["id"]) if rows else None
            if len(rows) < REPLAY_PAGE:
                break
        while True:
            row = await subscriber.queue.get()
            if row is OVERFLOW:
                overflow = json.dumps({"code": "stream_too_slow"})
                yield ServerSentEvent(data=overflow, event="stream.overflow")
                return
            if row["id"] in sent:
                continue
            yield _frame(row)
    finally:
        hub.unsubscribe(subscriber)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "clients": hub.count()})


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Unknown paths and methods answer the API's failure envelope too."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, exc.headers)


application = Starlette(
    routes=[Route(PATH, stream), Route("/health", health)],
    exception_handlers={HTTPException: _http_error},
)
