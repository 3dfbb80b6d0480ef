"""One run of one WhatsApp session: its neonize client and where its linking stands.

A session start makes a new run (`gen` counts them), so what an old run's threads and timers
still do can be told apart and dropped (registry.py). The run's fields are written by its
connect thread (connection.py) and by the event dispatcher (events.py).
"""

from __future__ import annotations

import threading
from typing import Any

from node_agent.engines.whatsapp.ffi import StartHold

# `state` words: starting → qr | pairing → paired → connected ⇄ reconnecting; retrying (waiting
# to connect again); draining (parked: the node wants a restart, see connection.py).
STATES = (
    "starting",
    "qr",
    "pairing",
    "paired",
    "connected",
    "reconnecting",
    "retrying",
    "draining",
)


class SessionRun:
    """One run of a session (a restart makes a new one).

    `credentials` are the ones it was started with (None: link afresh), replaced by the
    connected device's once connected.
    """

    def __init__(
        self,
        session_id: str,
        method: str,
        phone_number: str | None,
        credentials: dict[str, Any] | None,
        gen: int,
    ) -> None:
        self.session_id = session_id
        self.method = method
        self.phone_number = phone_number
        self.credentials = credentials
        self.gen = gen
        self.cancel = threading.Event()
        self.client: Any = None
        self.thread: threading.Thread | None = None
        self.state = "starting"  # one of STATES
        self.connect_running = False
        self.ever_connected = False  # a connect() was called: Go may hold this client
        self.progressed = False  # the last connect() got as far as a QR or a connection
        self.qr_index = 0
        self.paired_jid = ""
        self.connected_data: dict[str, Any] | None = None
        self.restart_reason: str | None = None
        self.failure_reason: str | None = None  # the last `failed` reported for this run
        self.resolved: dict[str, str] = {}  # phone digits → JID from is_on_whatsapp
        self.hold: StartHold | None = None  # the gate hold of the connect() starting now
