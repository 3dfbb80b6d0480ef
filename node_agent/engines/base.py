"""The engine interface: what the node runtime needs from a WhatsApp connection library.

An engine holds the live connections of many sessions. Calls come from Celery's thread pool, so an
engine must be thread-safe. It reports what happens through one callback,
`on_event(session_id, kind, data)`, called from any thread (never while the caller of an engine
method waits on it), with these kinds and `data` keys:

- `qr`: `qr_string`, `expires_at` (ISO 8601 UTC), `index` (1-based)
- `pair_code`: `code` (`ABCD-EFGH`)
- `connected`: `phone_number` (E.164 digits), `jid`, `credentials` (JSON-able dict to keep)
- `disconnected`, `reconnecting`, `logged_out`, `failed`: `reason` (snake_case); `failed` may
  add `retrying` (True: the engine holds the session and tries again) and `retry_in_s`
- `message`: `incoming` = {`id`, `from`, `chatId`, `type`, `timestamp`, `text`?, `media`?
  {`id` (backend media id), `mimetype`, `size`, `filename`?, `caption`?}, `location`?,
  `contact`?, `reaction`?, `quotedId`?, `mentions`?} (its content keys are
  protocol.INCOMING_CONTENT_KEYS; its types protocol.MESSAGE_TYPES)
- `receipt`: `wa_message_id`, `status` (`delivered` | `read`)
- `receipts`: `receipts`, a list of `{wa_message_id, status}` (several `receipt`s, in order)
- `group`: `event` (joined | left | participants | updated), `event_id` (unique per change),
  `group` (its JID), `by` (who did it, or None), `data` (protocol.GroupEventReport's)
- `contact`: `event_id` (unique per change), `contact` (the person's JID), `phone`, `lid` (or
  None), `changes` {pushName?, picture?: bool} (node_agent/contact_events.py)
- `presence`: `event_id`, `contact`, `chat` (or None), `state`, `lastSeen` (or None)
  (node_agent/chats.py)
- `call`: `event_id`, `from` (the caller's JID), `callId`, `at` (ISO 8601), `video` (or None)
- `event`: `type` (a protocol.SESSION_EVENT_TYPES entry), `event_id`, `data` (the event's
  keys): message.reaction, message.edited, message.revoked (node_agent/message_actions.py)

After `stop` or `logout` returns, the engine emits nothing more for that session.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any

EventCallback = Callable[[str, str, dict[str, Any]], None]


class SendError(Exception):
    """A message was definitely not handed to WhatsApp."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PermanentSendError(SendError):
    """Retrying cannot help (e.g. `recipient_not_on_whatsapp`)."""


class TransientSendError(SendError):
    """A later try may succeed (e.g. `session_not_connected`); nothing was sent."""


class CallRefused(Exception):
    """WhatsApp refused a call of a session (a group's, a contact's, the profile's), or what it
    names is not known: `code` says which (GroupError lists the group codes; the contact calls
    use `contact_not_found`, `session_not_connected`, `contacts_unsupported`,
    `whatsapp_error`); `message` says more."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message or code


class GroupError(CallRefused):
    """WhatsApp refused a group call, or the group is not known: `code` says which.

    Codes (the backend answers each with its own 4xx): `group_not_found`, `not_admin`,
    `not_participant`, `invite_invalid` (an unknown, revoked or expired invite code),
    `already_participant`, `session_not_connected`, `groups_unsupported` (the engine has no
    groups), `whatsapp_error` (anything else WhatsApp said; `message` holds its words).
    """


class Engine(abc.ABC):
    """One WhatsApp connection library behind the node runtime."""

    name: str = ""

    def __init__(self, on_event: EventCallback) -> None:
        self._emit_cb = on_event

    def emit(self, session_id: str, kind: str, **data: Any) -> None:
        """Hand an event to the runtime."""
        self._emit_cb(session_id, kind, data)

    @abc.abstractmethod
    def start(
        self,
        session_id: str,
        method: str,
        phone_number: str | None,
        credentials: dict[str, Any] | None,
    ) -> None:
        """Start a session; with `credentials` resume the linked device, else begin linking.

        `method` is `qr` or `pairing_code` (then `phone_number` is required). Returns at once;
        progress comes as events. Starting a running session restarts it.
        """

    @abc.abstractmethod
    def stop(self, session_id: str) -> None:
        """Close the session's connection, keeping the device linked. Safe to repeat."""

    @abc.abstractmethod
    def logout(self, session_id: str) -> None:
        """Unlink the device from the phone's account and close the connection. Safe to repeat.

        Emits no `logged_out` event: the caller initiated it and reports it.
        """

    @abc.abstractmethod
    def is_running(self, session_id: str) -> bool:
        """Return True while the engine holds the session (connected or not)."""

    @abc.abstractmethod
    def send(self, session_id: str, message_id: str, payload: dict[str, Any]) -> str:
        """Send one message and return its WhatsApp id.

        Raises PermanentSendError or TransientSendError only when nothing was sent; any other
        exception means the message's fate is unknown.
        """

    @abc.abstractmethod
    def check_number(self, session_id: str, phone: str) -> str | None:
        """Return the JID of `phone` (E.164 digits) if it is on WhatsApp, else None."""

    def typing(self, session_id: str, payload: dict[str, Any], composing: bool) -> None:
        """Show (`composing`) or clear "typing…" in the chat of a message about to be sent
        (`payload` as for `send`). Best effort: the caller sends the message whatever this
        raises. This default shows nothing (an engine that cannot)."""
        return None

    def reachable(self) -> bool:
        """Tell whether this engine's network answers, as last seen; never blocks."""
        return True

    def action(self, session_id: str, action: str, params: dict[str, Any]) -> None:
        """Run a simulated phone action (sandbox only)."""
        raise NotImplementedError(f"engine {self.name!r} has no simulated actions")

    # --- Groups (node_agent/groups.py documents the shapes; GroupError for every refusal) ---

    def groups_joined(self, session_id: str) -> list[dict[str, Any]]:
        """Return every group the account is in, as GroupInfo dicts, in one WhatsApp call."""
        raise GroupError("groups_unsupported")

    def group_info(self, session_id: str, group_jid: str) -> dict[str, Any]:
        """Return one group's GroupInfo."""
        raise GroupError("groups_unsupported")

    def group_create(
        self, session_id: str, subject: str, participants: list[str]
    ) -> dict[str, Any]:
        """Create a group of `participants` (JIDs) with the account as its owner; return its
        GroupInfo."""
        raise GroupError("groups_unsupported")

    def group_participants(
        self, session_id: str, group_jid: str, action: str, participants: list[str]
    ) -> list[dict[str, Any]]:
        """`action` (add | remove | promote | demote) each of `participants` (JIDs); return one
        ParticipantResult per JID, in the order given."""
        raise GroupError("groups_unsupported")

    def group_invite_link(self, session_id: str, group_jid: str, reset: bool = False) -> str:
        """Return the group's invite link (`https://chat.whatsapp.com/<code>`); `reset` revokes
        the current one and returns its successor."""
        raise GroupError("groups_unsupported")

    def group_invite_info(self, session_id: str, code: str) -> dict[str, Any]:
        """Return the GroupInfo WhatsApp shows for an invite `code` before joining."""
        raise GroupError("groups_unsupported")

    def group_join(self, session_id: str, code: str) -> str:
        """Join the group of invite `code`; return its JID."""
        raise GroupError("groups_unsupported")

    def group_update(self, session_id: str, group_jid: str, changes: dict[str, Any]) -> None:
        """Apply `changes` (GroupChanges: subject, description, announce, locked,
        joinApproval, picture) in order; the first refusal raises."""
        raise GroupError("groups_unsupported")

    def group_leave(self, session_id: str, group_jid: str) -> None:
        """Leave the group."""
        raise GroupError("groups_unsupported")

    # --- Contacts and the account's profile (node_agent/contacts.py: shapes; CallRefused) ---

    def contacts(self, session_id: str) -> list[dict[str, Any]]:
        """Return the session's contacts as Contact dicts, from its own store (no WhatsApp
        request)."""
        raise CallRefused("contacts_unsupported")

    def contact_profile(self, session_id: str, jid: str) -> dict[str, Any]:
        """Return a person's Profile (push name, about, business, whether a picture is shown)."""
        raise CallRefused("contacts_unsupported")

    def contact_picture(self, session_id: str, jid: str) -> bytes | None:
        """Return the JPEG bytes of a person's profile picture, or of the account's own (`jid`
        ""), downloaded by the node; None when there is none or it is hidden from the account."""
        raise CallRefused("contacts_unsupported")

    def contact_block(self, session_id: str, jid: str, block: bool) -> None:
        """Block (`block`) or unblock a person."""
        raise CallRefused("contacts_unsupported")

    def blocklist(self, session_id: str) -> list[str]:
        """Return the JIDs the account has blocked."""
        raise CallRefused("contacts_unsupported")

    def own_profile(self, session_id: str) -> dict[str, Any]:
        """Return the account's own Profile."""
        raise CallRefused("contacts_unsupported")

    def own_profile_update(self, session_id: str, changes: dict[str, Any]) -> None:
        """Apply ProfileChanges (pushName, about, picture: JPEG bytes or None to remove) in that
        order; the first refusal raises."""
        raise CallRefused("contacts_unsupported")

    def lid_lookup(self, session_id: str, jid: str) -> dict[str, Any]:
        """Return {phone, lid} for a phone JID or a `@lid` JID from the session's own store
        (either None when WhatsApp has not told it)."""
        raise CallRefused("contacts_unsupported")

    # --- Chats and presence (node_agent/chats.py: the states; CallRefused for a refusal) ---

    def presence_set(self, session_id: str, available: bool) -> None:
        """Show the account as available (online) or unavailable to its contacts."""
        raise CallRefused("chats_unsupported")

    def chat_presence(self, session_id: str, chat: str, state: str) -> None:
        """Show "typing…" or "recording…" in `chat` (a JID), or stop (`paused`)."""
        raise CallRefused("chats_unsupported")

    def mark_read(self, session_id: str, chat: str, items: list[tuple[str, str]]) -> None:
        """Send read receipts for messages of `chat`: (WhatsApp id, sender JID) each."""
        raise CallRefused("chats_unsupported")

    def presence_subscribe(self, session_id: str, jid: str) -> None:
        """Ask WhatsApp for a person's presence; it comes as `presence` events."""
        raise CallRefused("chats_unsupported")

    def call_reject(self, session_id: str, caller: str, call_id: str) -> None:
        """Decline an incoming call (a `call` event's `from` and `callId`)."""
        raise CallRefused("chats_unsupported")

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop every session's connection and background threads (node exit)."""


def holding_engine(engines: Mapping[str, Engine], row: Mapping[str, Any] | None) -> Engine | None:
    """Return the engine of a session row (of the node's database) if it holds the session now.

    None when there is no row, the node has no such engine, or the engine does not hold it.
    """
    if row is None:
        return None
    engine = engines.get(row["engine"])
    return engine if engine is not None and engine.is_running(row["session_id"]) else None
