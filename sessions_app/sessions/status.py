"""The rules of a session's status: which statuses mean what, and what a user may do in each.

One home for them: the API's services and the dashboard's buttons read the same sets.
"""

from __future__ import annotations

import base64
import io

import qrcode
from django.utils import timezone

from gateway.models import SystemLog, system_log
from sessions_app.sessions.models import Session

S = Session.Status

# Statuses in which the node is already working on the session (a connect is then a no-op).
STARTING = frozenset({S.INITIALIZING, S.QR_REQUIRED, S.PAIRING, S.RECONNECTING})
# Statuses from which a (re)connect starts the session on a node again.
STARTABLE = frozenset({S.DISCONNECTED, S.LOGGED_OUT, S.FAILED})
# Statuses in which a phone links the session: it scans the QR or enters the pairing code.
LINKING = frozenset({S.QR_REQUIRED, S.PAIRING})


def qr_current(session: Session) -> bool:
    """Tell whether the session holds an unexpired QR code."""
    return bool(
        session.status == S.QR_REQUIRED
        and session.qr_code
        and session.qr_expires_at
        and session.qr_expires_at > timezone.now()
    )


def can_connect(session: Session) -> bool:
    """Tell whether connect would start the session (else it is running or starting)."""
    return session.status in STARTABLE


def can_disconnect(session: Session) -> bool:
    """Tell whether there is a connection (or a retrying FAILED one on a node) to stop."""
    return session.status not in STARTABLE or (
        session.status == S.FAILED and bool(session.worker_id)
    )


def can_logout(session: Session) -> bool:
    """Tell whether there is a linked device a node could unlink."""
    return session.status != S.LOGGED_OUT and bool(session.worker_id)


def can_scan(session: Session) -> bool:
    """Tell whether the sandbox phone can scan the session's QR or enter its pairing code."""
    return session.engine == Session.Engine.SANDBOX and session.status in LINKING


def qr_png_data_url(qr_string: str) -> str:
    """Render a QR string as a PNG data URL (`data:image/png;base64,…`)."""
    image = qrcode.make(qr_string, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def session_status_set(session: Session, status: str, *, reason: str) -> None:
    """Set a session's status and reason in memory (the caller saves); clear stale QR/code.

    A change to CONNECTED, LOGGED_OUT or FAILED is written to the system log.
    """
    previous = session.status
    session.status = status
    session.status_reason = reason or ""
    session.status_changed_at = timezone.now()
    if status != S.QR_REQUIRED:
        session.qr_code = ""
        session.qr_string = ""
        session.qr_expires_at = None
    if status != S.PAIRING:
        session.pairing_code = ""
    if status == S.LOGGED_OUT:
        session.session_store = ""  # the login is gone, wherever it was kept
    if previous != status and status in (S.CONNECTED, S.LOGGED_OUT, S.FAILED):
        level = SystemLog.Level.INFO if status == S.CONNECTED else SystemLog.Level.WARNING
        system_log(
            event=f"session.{status.lower()}",
            level=level,
            message=f"Session {session.name!r} {status}" + (f" ({reason})" if reason else ""),
            user_id=session.owner_id,
            session_id=session.id,
            worker_id=session.worker_id or "",
        )
