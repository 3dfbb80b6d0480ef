"""The WhatsApp engine: one neonize client (whatsmeow underneath) per session.

This module is the engine's face to the node runtime (the Engine interface of engines/base.py)
and puts its parts together; README "The WhatsApp engine" tells the story:

- run.py: one run of a session (a start makes a new one); registry.py: the current run of each
  session, emitting only for it, and ending runs;
- device_store.py: where each session's device keys live (SQLite file or PostgreSQL);
- client.py: building a run's neonize client; connection.py: a thread per run that connects
  and retries with back-off, within the fd budget; events.py: one dispatcher thread that turns
  neonize's events into the engine's kinds; sending.py: sends and number checks; groups.py:
  group calls and their answers in node_agent/groups.py shapes; contacts.py: contact and
  profile calls in node_agent/contacts.py shapes;
- ffi.py: what is process-wide about neonize, above all the FFI gate: every FFI call goes
  through it (starts and stops alone, spaced; measured on neonize 0.5.2).

Guarded here too: `get_me()` only while our `connect()` runs; a JID is resumed only if its
device store holds it; neonize's garbage-collection finalizer is detached (it would call `Stop`
unguarded) and clients stay referenced while their connect thread lives.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from node_agent.config import NodeConfig
from node_agent.engines.base import Engine, EventCallback
from node_agent.engines.whatsapp import builders
from node_agent.engines.whatsapp.client import new_client
from node_agent.engines.whatsapp.connection import Connector
from node_agent.engines.whatsapp.contacts import ContactCalls
from node_agent.engines.whatsapp.device_store import DeviceStore
from node_agent.engines.whatsapp.events import EventDispatcher
from node_agent.engines.whatsapp.ffi import FfiGate
from node_agent.engines.whatsapp.groups import GroupCalls
from node_agent.engines.whatsapp.presence import PresenceCalls
from node_agent.engines.whatsapp.reachability import Reachability
from node_agent.engines.whatsapp.registry import SessionRegistry
from node_agent.engines.whatsapp.run import SessionRun
from node_agent.engines.whatsapp.sending import Sender

log = logging.getLogger(__name__)


class WhatsAppEngine(Engine):
    """Real WhatsApp sessions of this node through neonize 0.5.2."""

    name = "whatsapp"

    def __init__(
        self, config: NodeConfig, on_event: EventCallback, *, connect: bool = True
    ) -> None:
        """Set up the engine; neonize is imported and threads start with the first session.

        `connect=False` never calls neonize's `connect()`: tests drive sessions by feeding events.
        """
        super().__init__(on_event)
        self._config = config
        self._connect_enabled = connect
        self._gate = FfiGate(config.whatsapp_start_spacing_s)
        self._device_store = DeviceStore(config)
        self._registry = SessionRegistry(config, self._gate, self._device_store, self.emit)
        self._dispatcher = EventDispatcher(config, self._gate, self._registry)
        self._connector = Connector(
            config, self._gate, self._registry, self._device_store, self._new_client
        )
        self._sender = Sender(config, self._gate, self._registry)
        self._groups = GroupCalls(config, self._gate, self._registry)
        self._contacts = ContactCalls(config, self._gate, self._registry)
        self._presence = PresenceCalls(config, self._gate, self._registry)
        self._reachability = Reachability(config)

    def reachable(self) -> bool:
        """Whether WhatsApp (or the proxy) took a TCP connection at the last probe; see
        Reachability."""
        return self._reachability.reachable()

    def _new_client(self, run: SessionRun) -> Any:
        return new_client(self._config, self._device_store, run, self._dispatcher.on_go_event)

    # Process-wide parts, for the node and its tests

    @property
    def gate(self) -> FfiGate:
        """Return the FFI gate (shared by every client of this engine)."""
        return self._gate

    @property
    def draining(self) -> bool:
        """Return True once the fd budget ran out: the node wants a restart."""
        return self._connector.draining

    @property
    def connects(self) -> int:
        """Return how many connect() calls this process made (each leaks one fd)."""
        return self._connector.connects

    @property
    def fd_budget(self) -> int:
        """Return the open-fd count at which the engine drains."""
        return self._connector.fd_budget

    def device_store_name(self, session_id: str) -> str:
        """Return a session's device store: its SQLite path or the PostgreSQL URL."""
        return self._device_store.name(session_id)

    def client_of(self, session_id: str) -> Any:
        """Return the neonize client of a running session, or None (for tests and tools)."""
        run = self._registry.get(session_id)
        return run.client if run else None

    def run_state(self, session_id: str) -> str | None:
        """Return the state of a running session's run (run.STATES), or None (tests, tools)."""
        run = self._registry.get(session_id)
        return run.state if run else None

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until the dispatcher has handled every queued event (tests); True if so."""
        return self._dispatcher.wait_idle(timeout_s)

    # Engine interface

    def start(
        self,
        session_id: str,
        method: str,
        phone_number: str | None,
        credentials: dict[str, Any] | None,
    ) -> None:
        """Start linking or resume the stored device; returns at once (connect runs in a thread).

        Restarts a running session. The first failed connect reports `failed` (e.g.
        `whatsapp_unreachable`) and the session keeps retrying with back-off until stopped.
        """
        self.stop(session_id)
        with self._registry.lock:
            if self._registry.closed:
                return
            self._dispatcher.start()
            run = self._registry.add(session_id, method, phone_number, credentials)
            if self._connect_enabled:
                self._connector.spawn(run)
            else:
                run.client = self._new_client(run)

    def stop(self, session_id: str) -> None:
        """Stop the session's client (under the gate) and wait for its thread; keep its store."""
        run = self._registry.pop(session_id)
        if run is not None:
            self._registry.teardown(run)

    def logout(self, session_id: str) -> None:
        """Unlink the device if connected, stop, and delete the session's device store.

        Safe to repeat. A session that is not connected cannot tell WhatsApp; its store is
        deleted all the same and the phone keeps listing the device until it is removed there.
        """
        run = self._registry.pop(session_id)
        if run is not None:
            if run.connect_running and run.state in ("connected", "reconnecting"):
                try:
                    with self._gate.shared():
                        run.client.logout()
                except Exception as exc:
                    log.warning("logout of %s at WhatsApp failed: %s", session_id, exc)
            self._registry.teardown(run)
        self._device_store.delete(session_id)

    def is_running(self, session_id: str) -> bool:
        """Return True while the engine holds the session (also while it waits to retry)."""
        return self._registry.get(session_id) is not None

    def is_connected(self, session_id: str) -> bool:
        """Ask neonize whether the session's socket is connected (an FFI call, gated)."""
        run = self._registry.get(session_id)
        if run is None or run.client is None:
            return False
        with self._gate.shared():
            return bool(run.client.is_connected)

    def send(self, session_id: str, message_id: str, payload: dict[str, Any]) -> str:
        """Send a message of any type and return its WhatsApp id; see sending.Sender.send.

        Raises TransientSendError or PermanentSendError only when nothing was sent.
        """
        return self._sender.send(session_id, payload)

    def check_number(self, session_id: str, phone: str) -> str | None:
        """Return the JID of `phone` (E.164 digits) if it is on WhatsApp, else None.

        Raises TransientSendError `session_not_connected` when it cannot ask WhatsApp.
        """
        return self._sender.check_number(session_id, phone)

    def typing(self, session_id: str, payload: dict[str, Any], composing: bool) -> None:
        """Show or clear "typing…" in the message's chat; see sending.Sender.typing."""
        self._sender.typing(session_id, payload, composing)

    # Groups: see groups.GroupCalls (neonize's calls, GroupError codes, what 0.5.2 cannot do)

    def groups_joined(self, session_id: str) -> list[dict[str, Any]]:
        """Return the GroupInfo of every group the account is in. Raises GroupError."""
        return self._groups.joined(session_id)

    def group_info(self, session_id: str, group_jid: str) -> dict[str, Any]:
        """Return one group's GroupInfo. Raises GroupError."""
        return self._groups.info(session_id, group_jid)

    def group_create(
        self, session_id: str, subject: str, participants: list[str]
    ) -> dict[str, Any]:
        """Create a group owned by the account; return its GroupInfo. Raises GroupError."""
        return self._groups.create(session_id, subject, participants)

    def group_participants(
        self, session_id: str, group_jid: str, action: str, participants: list[str]
    ) -> list[dict[str, Any]]:
        """Add, remove, promote or demote; one ParticipantResult per JID. Raises GroupError."""
        return self._groups.participants(session_id, group_jid, action, participants)

    def group_invite_link(self, session_id: str, group_jid: str, reset: bool = False) -> str:
        """Return the group's invite link (`reset`: a new one). Raises GroupError."""
        return self._groups.invite_link(session_id, group_jid, reset)

    def group_invite_info(self, session_id: str, code: str) -> dict[str, Any]:
        """Return the GroupInfo of an invite code before joining. Raises GroupError."""
        return self._groups.invite_info(session_id, code)

    def group_join(self, session_id: str, code: str) -> str:
        """Join by invite code; return the group JID. Raises GroupError."""
        return self._groups.join(session_id, code)

    def group_update(self, session_id: str, group_jid: str, changes: dict[str, Any]) -> None:
        """Apply GroupChanges in order (not joinApproval or picture removal). Raises GroupError."""
        self._groups.update(session_id, group_jid, changes)

    def group_leave(self, session_id: str, group_jid: str) -> None:
        """Leave the group. Raises GroupError."""
        self._groups.leave(session_id, group_jid)

    # Presence and reads: see presence.PresenceCalls (neonize's calls, CallRefused codes)

    def presence_set(self, session_id: str, available: bool) -> None:
        self._presence.presence_set(session_id, available)

    def chat_presence(self, session_id: str, chat: str, state: str) -> None:
        self._presence.chat_presence(session_id, chat, state)

    def mark_read(self, session_id: str, chat: str, items: list[tuple[str, str]]) -> None:
        self._presence.mark_read(session_id, chat, items)

    def presence_subscribe(self, session_id: str, jid: str) -> None:
        self._presence.presence_subscribe(session_id, jid)

    def call_reject(self, session_id: str, caller: str, call_id: str) -> None:
        self._presence.call_reject(session_id, caller, call_id)

    # Contacts and profile: see contacts.ContactCalls (neonize's calls, CallRefused codes)

    def contacts(self, session_id: str) -> list[dict[str, Any]]:
        """Return the store's Contacts (no WhatsApp request). Raises CallRefused."""
        return self._contacts.contacts(session_id)

    def contact_profile(self, session_id: str, jid: str) -> dict[str, Any]:
        """Return a person's Profile. Raises CallRefused."""
        return self._contacts.profile(session_id, jid)

    def contact_picture(self, session_id: str, jid: str) -> bytes | None:
        """Return a profile picture's JPEG (`jid` "": the account's), or None. Raises
        CallRefused."""
        return self._contacts.picture(session_id, jid)

    def contact_block(self, session_id: str, jid: str, block: bool) -> None:
        """Block or unblock a person. Raises CallRefused."""
        self._contacts.block(session_id, jid, block)

    def blocklist(self, session_id: str) -> list[str]:
        """Return the blocked JIDs. Raises CallRefused."""
        return self._contacts.blocklist(session_id)

    def own_profile(self, session_id: str) -> dict[str, Any]:
        """Return the account's own Profile. Raises CallRefused."""
        return self._contacts.own_profile(session_id)

    def own_profile_update(self, session_id: str, changes: dict[str, Any]) -> None:
        """Apply ProfileChanges in order (not picture removal). Raises CallRefused."""
        self._contacts.own_profile_update(session_id, changes)

    def lid_lookup(self, session_id: str, jid: str) -> dict[str, Any]:
        """Return {phone, lid} from the store (no WhatsApp request). Raises CallRefused."""
        return self._contacts.lid_lookup(session_id, jid)

    def shutdown(self) -> None:
        """Stop every session within WHATSAPP_STOP_TIMEOUT_S, then the engine's threads.

        Returns on time even if a client does not stop (a dial in progress blocks `stop()` for
        up to ~50 s, measured on neonize 0.5.2); such threads are logged and left to process exit.
        """
        runs = self._registry.close()
        stopper = threading.Thread(
            target=lambda: [self._registry.teardown(run) for run in runs],
            name="whatsapp-shutdown",
            daemon=True,
        )
        stopper.start()
        stopper.join(self._config.whatsapp_stop_timeout_s)
        if stopper.is_alive():
            log.error(
                "WhatsApp sessions did not all stop within %.0f s",
                self._config.whatsapp_stop_timeout_s,
            )
        self._dispatcher.stop()


def build_text_message(payload: dict[str, Any], target: tuple[str, str]) -> Any:
    """Build the waE2E Message of a text payload (see builders.build_text)."""
    return builders.build_text(payload, target)
