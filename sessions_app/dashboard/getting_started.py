"""The Sessions page's getting-started card, until the user's first message.

Three steps, each checked off as it is done: a sandbox session (one click), linking it, and a
curl that sends from it, with the user's own session id and, right after the card's "Make a key"
button, the new key itself (shown once, gateway.once).
"""

from __future__ import annotations

from typing import Any

from accounts.views import ISSUED_KEY, THEN_SESSIONS, HtmxHttpRequest
from gateway.once import take_once
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session


def getting_started(request: HtmxHttpRequest, sessions: list[Session]) -> dict[str, Any] | None:
    """The card's context, or None once the user has sent a message."""
    if OutboundMessage.objects.for_owner(request.user).exists():
        return None
    connected = [s for s in sessions if s.status == Session.Status.CONNECTED]
    session = (connected or sessions or [None])[0]
    return {
        "session": session,
        "connected": bool(connected),
        "api_url": request.build_absolute_uri("/api/v1"),
        "key": take_once(request, ISSUED_KEY) or "",
        "then": THEN_SESSIONS,
    }
