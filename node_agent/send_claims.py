"""Best-effort use of the shared session store's send claims, for messages.py.

A claim (session_store.py, `gateway_node_sends`) keeps a message from being sent twice when its
task reaches two nodes. Taking a claim must succeed before a send (messages.py handles that
failure); what comes after the engine had the message is best effort, since the send cannot be
undone: these functions log a store out of reach and go on. Each takes the node's shared store,
or None on a node without one (then they do nothing).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from node_agent.session_store import SharedSessionStore

log = logging.getLogger(__name__)


def record_outcome(
    shared: SharedSessionStore | None,
    message_id: str,
    state: str,
    *,
    wa_message_id: str | None = None,
    error_code: str | None = None,
) -> None:
    """Record a send's outcome (`sent` with its WhatsApp id, or `failed` with a code).

    If the store cannot be reached, the claim stays `handed`, and a later try on another node
    reports the message failed `delivery_unknown`: wrong at worst, never a resend.
    """
    if shared is None:
        return
    try:
        shared.send_done(message_id, state, wa_message_id, error_code)
    except psycopg.Error as exc:
        log.warning(
            "message %s: could not record %s in the session store: %s", message_id, state, exc
        )


def release(shared: SharedSessionStore | None, message_id: str) -> None:
    """Drop the claim of a send that did not happen, so a later try can claim it."""
    if shared is None:
        return
    try:
        shared.send_release(message_id)
    except psycopg.Error as exc:
        # The claim stays `handed` in this node's name; this node's next try takes it again.
        log.warning("message %s: could not release its claim: %s", message_id, exc)


def sent_claim(shared: SharedSessionStore | None, wa_message_id: str) -> dict[str, Any] | None:
    """Return the claim of the message sent as `wa_message_id` (by any node), or None.

    None too when it is not `sent` (yet) or the store cannot be reached. The claim's keys are
    SharedSessionStore.send_claim's.
    """
    if shared is None:
        return None
    try:
        claim = shared.send_get_by_wa(wa_message_id)
    except psycopg.Error as exc:
        log.warning("receipt for %s: session store unreachable: %s", wa_message_id, exc)
        return None
    return claim if claim is not None and claim["state"] == "sent" else None
