"""Writes for the sandbox phone: it scans QR codes, writes to the session, logs it out.

Each action reaches the session's node as the `sandbox_action` task (the sandbox engine acts
like the phone of a linked account); only sessions with engine `sandbox` take them.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from node_agent.protocol import MEDIA_TYPES, SandboxAction
from sessions_app.errors import (
    NotSandboxSession,
    QrExpired,
    SessionHasNoNode,
    SessionNotAwaitingScan,
    SessionNotConnected,
)
from sessions_app.media.services import media_descriptor, media_store
from sessions_app.media.sources import MediaSource
from sessions_app.messages.payloads import vcard_of
from sessions_app.sessions.models import Session
from sessions_app.sessions.status import LINKING
from workers_app.node_client import node_publish_on_commit

S = Session.Status
# Actions of a linked phone, which need a connected session.
CONNECTED_ACTIONS = ("incoming", "logout", "disconnect", "presence", "message_action", "call")


def sandbox_scan(
    *, owner: User, session: Session, phone_number: str = "", qr_string: str = ""
) -> Session:
    """Have the sandbox phone scan the session's current QR (or enter its pairing code).

    `phone_number` (E.164 digits) is the phone's; `qr_string`, when given, must be the current,
    unexpired QR. Raises NotSandboxSession, SessionNotAwaitingScan or QrExpired.
    """
    if session.engine != Session.Engine.SANDBOX:
        raise NotSandboxSession()
    if session.status not in LINKING or not session.worker_id:
        raise SessionNotAwaitingScan()
    if session.status == S.QR_REQUIRED:
        expired = session.qr_expires_at is None or session.qr_expires_at <= timezone.now()
        if expired or (qr_string and qr_string != session.qr_string):
            raise QrExpired()
        qr_string = session.qr_string
    sandbox_action(
        owner=owner,
        session=session,
        action="scan",
        params={"phoneNumber": phone_number or None, "qrString": qr_string or None},
    )
    return session


def sandbox_incoming(*, owner: User, session: Session, message: dict[str, Any]) -> None:
    """Have a sandbox contact send the session a message.

    `message` is `{from (E.164 digits), type, text?, media? (a MediaSource's fields),
    location?, contact? {name, phone?, vcard?}, pushName?}`. Its file is kept as a received
    one, as a node uploads what WhatsApp delivered, before the action goes out. Raises what
    `sandbox_action` and `media_store` raise.
    """
    params = dict(message)
    if params["type"] in MEDIA_TYPES:
        stored = media_store(
            owner=owner,
            session=session,
            type_=params["type"],
            source=MediaSource(**params.pop("media")),
            direction="in",
        )
        params["media"] = media_descriptor(stored)
    if params["type"] == "contact" and not params["contact"].get("vcard"):
        contact = params["contact"]
        contact["vcard"] = vcard_of(contact["name"], contact["phone"])
    # The node runs them in the order they were accepted (node_agent/engines/sandbox_phone.py).
    params["acceptedAt"] = time.time()
    sandbox_action(owner=owner, session=session, action="incoming", params=params)


def sandbox_action(*, owner: User, session: Session, action: str, params: dict[str, Any]) -> None:
    """Send a sandbox phone action (`scan`, `incoming`, `logout`, `disconnect`) to the node.

    Raises NotSandboxSession, SessionHasNoNode, or SessionNotConnected (every action but
    `scan` needs a connected session).
    """
    if session.engine != Session.Engine.SANDBOX:
        raise NotSandboxSession()
    if not session.worker_id:
        raise SessionHasNoNode()
    if action in CONNECTED_ACTIONS and session.status != S.CONNECTED:
        raise SessionNotConnected()
    with transaction.atomic():
        node_publish_on_commit(
            worker_id=session.worker_id,
            task=SandboxAction(session_id=session.id, action=action, params=params),
        )
