"""What a node keeps in its cluster's shared session store besides send claims (messages.py).

With a shared session store (SESSION_STORE_URL, session_store.py) a session can move between
nodes without a new scan: its credentials are kept there on every `connected`, a node starting
a session takes them from there, and a logout deletes them. Keeping them is retried on a timer
while the store is out of reach (5, 10, 20, 40, 60, 60… s), and a weekly pruning of old send
claims runs on the same timer. Without a store every method here does nothing.

Lock order: the store's own lock is innermost (it calls nothing of ours); these methods are
called under a session's operation lock or from the timer thread.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from node_agent.database import NodeDatabase
from node_agent.scheduler import Scheduler
from node_agent.session_store import SharedSessionStore

log = logging.getLogger(__name__)

SHARE_RETRY_FIRST_S = 5.0
SHARE_RETRY_CAP_S = 60.0
# Send claims in the shared store are kept a week (a message is retried for an hour at most),
# pruned at start and every six hours.
SEND_CLAIMS_KEEP_S = 7 * 24 * 3600.0
SEND_CLAIMS_PRUNE_EVERY_S = 6 * 3600.0


class SessionSharing:
    """Credentials of this node's sessions in `shared` (None: the node has no shared store).

    `worker_id` is this node's id, recorded as the credentials' owner; `db` is the node's own
    database, whose session rows hold the credentials the node uses now.
    """

    def __init__(self, db: NodeDatabase, shared: SharedSessionStore | None, worker_id: str) -> None:
        self._db = db
        self.shared = shared
        self._worker_id = worker_id
        self._timer = Scheduler("session-store-retries") if shared is not None else None
        self._stopped = False

    def start(self) -> None:
        """Prune old send claims now (on the timer thread), then every six hours."""
        if self._timer is not None:
            self._timer.call_later(0, self.prune_send_claims)

    def stop(self) -> None:
        """Stop the timer; pending retries are dropped (the store stays open). Idempotent."""
        self._stopped = True
        if self._timer is not None:
            self._timer.stop()

    def prune_send_claims(self) -> int:
        """Delete week-old send claims from the shared store, then run again in six hours.

        Returns how many went (0 when the store is unreachable: it tries again next time).
        """
        if self.shared is None or self._timer is None or self._stopped:
            return 0
        try:
            pruned = self.shared.sends_prune(SEND_CLAIMS_KEEP_S)
        except psycopg.Error as exc:
            log.warning("cannot prune old send claims: %s", exc)
            pruned = 0
        self._timer.call_later(SEND_CLAIMS_PRUNE_EVERY_S, self.prune_send_claims)
        return pruned

    def credentials_for(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Return the credentials to start the session of `row` with (None: link it afresh).

        The shared store's, of the same engine, come first: the session may have run on another
        node since it last ran here (they then replace the row's). The row's own serve when the
        store keeps none (they date from before the node had a store) or cannot be reached.
        Raises psycopg.Error when the store cannot be reached and the row has none.
        """
        local = row["credentials"]
        if self.shared is None:
            return local
        session_id = row["session_id"]
        try:
            kept = self.shared.credentials_get(session_id)
        except psycopg.Error as exc:
            if not local:
                raise
            log.warning("session %s: store unreachable, resuming as last here: %s", session_id, exc)
            return local
        if kept is None or kept[0] != row["engine"]:
            return local
        if kept[1] != local:
            log.info("session %s resumes with the credentials of the shared store", session_id)
            self._db.session_update(session_id, credentials=kept[1])
        return kept[1]

    def keep(
        self, session_id: str, engine: str, credentials: dict[str, Any], last_delay_s: float = 0
    ) -> None:
        """Keep a session's credentials in the shared store; retry later if it is unreachable.

        A retry happens only while they are still the session's current ones here.
        """
        if self.shared is None or self._timer is None:
            return
        try:
            self.shared.credentials_save(session_id, engine, credentials, self._worker_id)
        except psycopg.Error as exc:
            delay_s = min(SHARE_RETRY_CAP_S, max(SHARE_RETRY_FIRST_S, 2 * last_delay_s))
            log.warning(
                "session %s: cannot keep credentials in the session store (retry in %.0f s): %s",
                session_id,
                delay_s,
                exc,
            )
            self._timer.call_later(
                delay_s, lambda: self._keep_again(session_id, credentials, delay_s)
            )

    def _keep_again(self, session_id: str, credentials: dict[str, Any], delay_s: float) -> None:
        row = self._db.session_get(session_id)
        if row and row["desired"] == "running" and row["credentials"] == credentials:
            self.keep(session_id, row["engine"], credentials, delay_s)

    def forget(self, session_id: str) -> None:
        """Delete a session's credentials from the shared store (best effort).

        Left behind, they are harmless: a node resuming them finds the device gone and reports
        the session LOGGED_OUT (`device_removed`).
        """
        if self.shared is None:
            return
        try:
            self.shared.credentials_delete(session_id)
        except psycopg.Error as exc:
            log.warning(
                "session %s: cannot delete credentials from the session store: %s", session_id, exc
            )
