"""Groups of the sandbox: WhatsApp's group rules among sandbox sessions and contacts.

The groups live in the shared network file (every node of the machine sees them), so two sandbox
sessions, on one node or two, can be in one group. What it simulates:

- A group JID is `120363` + 12 random digits `@g.us`; its creator is its owner and super admin.
- Adding a number whose digits end in `99` answers `not_on_whatsapp` (as sending to it does); one
  ending in `98` is a contact whose privacy settings refuse being added: `invite_required`, with
  an invite code valid 3 days (WhatsApp's own offer, which the API passes on).
- Only admins add, remove, promote, demote, change the settings or the invite link; anyone edits
  the subject, description and picture unless the group is `locked`. A non-member is refused
  `not_participant` (also reading its info), an unknown group `group_not_found`, an unknown
  invite `invite_invalid`.
- Joining by invite adds the session as a member (joining again is harmless); leaving removes it.
- Every change is told to the members' sessions held by the same engine as `group` events
  (joined, left, participants, updated), as WhatsApp tells every member; a message sent to the
  group reaches them as an incoming group message. A non-member's send is refused
  `not_participant`, a member's in an announce-only group `not_admin`.
"""

from __future__ import annotations

import secrets
from typing import Any

from node_agent import message_actions, protocol
from node_agent.clock import utc_now_iso
from node_agent.contacts import phone_of as contacts_phone
from node_agent.engines.base import GroupError, PermanentSendError
from node_agent.engines.sandbox_contacts import sandbox_lid
from node_agent.engines.sandbox_group_network import SandboxGroupNetwork

_DONE = ("added", "removed", "promoted", "demoted")


class SandboxGroups:
    """The group calls of SandboxEngine (a mixin: it uses the engine's sessions, lock and
    config); the Engine methods of node_agent.engines.base."""

    _sessions: dict[str, Any]
    _lock: Any
    _config: Any
    _group_net: SandboxGroupNetwork | None = None

    def _groups(self, session_id: str) -> tuple[SandboxGroupNetwork, str]:
        """Return the group network and the session's own JID. Raises GroupError
        session_not_connected."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.state != "connected" or not session.credentials:
                raise GroupError("session_not_connected", "Session is not connected.")
            me = protocol.user_jid(session.credentials["phoneNumber"])
            if self._group_net is None:
                self._group_net = SandboxGroupNetwork(self._config.sandbox_network_path)
            return self._group_net, me

    def _tell(self, group_jid: str, by: str, notices: list[tuple[str, str, dict]]) -> None:
        """Emit `group` events to this engine's connected sessions among `notices` (member JID,
        event, data), from the scheduler thread, as WhatsApp tells every member of a change.
        Sessions on other nodes are not told (they see the change on their next listing)."""
        change = secrets.token_hex(8)
        with self._lock:
            held = {
                protocol.user_jid(s.credentials["phoneNumber"]): s
                for s in self._sessions.values()
                if s.state == "connected" and s.credentials
            }
            for member, event, data in notices:
                session = held.get(member)
                if session is not None:
                    payload = {"event": event, "event_id": change, "group": group_jid}
                    self._later(0, session, self._group_emit, {**payload, "by": by, "data": data})

    def _group_emit(self, session: Any, payload: dict[str, Any]) -> None:
        self.emit(session.session_id, "group", **payload)

    def _members(self, info: dict[str, Any]) -> list[str]:
        return [p["jid"] for p in info["participants"]]

    # --- Messages to a group ------------------------------------------------------------

    def group_send_check(self, session: Any, group_jid: str) -> None:
        """Refuse a send to a group the session is not in, or (announce-only) not an admin of:
        PermanentSendError `group_not_found`, `not_participant` or `not_admin`. Engine lock held."""
        if self._group_net is None:
            self._group_net = SandboxGroupNetwork(self._config.sandbox_network_path)
        me = protocol.user_jid(session.credentials["phoneNumber"])
        try:
            announce = self._group_net.info(group_jid)["announce"]
            with self._group_net._lock:
                self._group_net._require(group_jid, me, admin=announce)
        except GroupError as refused:
            raise PermanentSendError(refused.code, f"{refused.message} (sandbox)") from refused

    def group_deliver(
        self, session: Any, group_jid: str, wa_message_id: str, payload: dict[str, Any]
    ) -> None:
        """Hand a message sent to a group to the other members' sessions this engine holds, as
        an incoming group message (`isGroup`, `senderJid`). Engine lock held."""
        phone = session.credentials["phoneNumber"]
        push_name = self.push_name_of(session.session_id, protocol.user_jid(phone))  # type: ignore[attr-defined]
        incoming: dict[str, Any] = {
            "id": wa_message_id,
            "from": phone,
            "chatId": group_jid,
            "type": payload.get("type", "text"),
            "timestamp": utc_now_iso(),
            "isGroup": True,
            "senderJid": protocol.user_jid(phone),
            "fromPhone": phone,
            "fromLid": sandbox_lid(phone),
            "pushName": push_name,
        }
        for key in ("text", "media", "location", "contact", "reaction", "mentions"):
            if payload.get(key) is not None:
                incoming[key] = payload[key]
        assert self._group_net is not None  # group_send_check opened it
        members = set(self._members(self._group_net.info(group_jid)))
        # Every other member reads it (SANDBOX_READ_DELAY_S later): who, as WhatsApp tells.
        for member in sorted(members - {protocol.user_jid(phone)}):
            read = message_actions.action_event(
                message_actions.READ,
                wa_id=f"{wa_message_id}:{member}",
                chatId=group_jid,
                messageId=wa_message_id,
                fromPhone=contacts_phone(member),
                fromLid=sandbox_lid(contacts_phone(member) or ""),
                timestamp=None,
                senderJid=member,
                **{"from": contacts_phone(member) or member.split("@")[0]},
            )
            self._later(self._config.sandbox_read_delay_s, session, self._group_read, read)
        for other in self._sessions.values():
            if other is session or other.state != "connected" or not other.credentials:
                continue
            if protocol.user_jid(other.credentials["phoneNumber"]) in members:
                self._later(0, other, self._group_incoming, incoming)

    def _group_read(self, session: Any, read: dict[str, Any]) -> None:
        self.emit(session.session_id, "event", **read)

    def _group_incoming(self, session: Any, incoming: dict[str, Any]) -> None:
        self.emit(session.session_id, "message", incoming=incoming)

    # --- The Engine's group calls --------------------------------------------------------

    def groups_joined(self, session_id: str) -> list[dict[str, Any]]:
        net, me = self._groups(session_id)
        return net.of_member(me)

    def group_info(self, session_id: str, group_jid: str) -> dict[str, Any]:
        net, me = self._groups(session_id)
        info = net.info(group_jid)
        if me not in self._members(info):  # WhatsApp shows a group to its members only
            raise GroupError("not_participant", "This account is not in the group.")
        return info

    def group_create(
        self, session_id: str, subject: str, participants: list[str]
    ) -> dict[str, Any]:
        net, me = self._groups(session_id)
        info = net.create(me, subject, participants)
        self._tell(info["id"], me, [(m, "joined", {"info": info}) for m in self._members(info)])
        return info

    def group_participants(
        self, session_id: str, group_jid: str, action: str, participants: list[str]
    ) -> list[dict[str, Any]]:
        net, me = self._groups(session_id)
        results = net.participants(me, group_jid, action, participants)
        done = [r["jid"] for r in results if r["result"] in _DONE]
        if done:
            info = net.info(group_jid)
            notice = {"action": action, "participants": done}
            notices = [(m, "participants", notice) for m in self._members(info) if m not in done]
            if action == "add":
                notices += [(m, "joined", {"info": info}) for m in done]
            elif action == "remove":
                notices += [(m, "left", {}) for m in done]
            else:
                notices += [(m, "participants", notice) for m in done]
            self._tell(group_jid, me, notices)
        return results

    def group_invite_link(self, session_id: str, group_jid: str, reset: bool = False) -> str:
        net, me = self._groups(session_id)
        return net.invite_link(me, group_jid, reset)

    def group_invite_info(self, session_id: str, code: str) -> dict[str, Any]:
        net, _me = self._groups(session_id)
        return net.info(net.by_code(code))

    def group_join(self, session_id: str, code: str) -> str:
        net, me = self._groups(session_id)
        before = self._members(net.info(net.by_code(code)))
        group_jid = net.join(me, code)
        if me not in before:
            info = net.info(group_jid)
            notice = {"action": "add", "participants": [me]}
            notices = [(m, "participants", notice) for m in before]
            self._tell(group_jid, me, [*notices, (me, "joined", {"info": info})])
        return group_jid

    def group_update(self, session_id: str, group_jid: str, changes: dict[str, Any]) -> None:
        net, me = self._groups(session_id)
        net.update(me, group_jid, changes)
        told = {k: (v is not None if k == "picture" else v) for k, v in changes.items()}
        members = self._members(net.info(group_jid))
        self._tell(group_jid, me, [(m, "updated", {"changes": told}) for m in members])

    def group_leave(self, session_id: str, group_jid: str) -> None:
        net, me = self._groups(session_id)
        net.leave(me, group_jid)
        notice = {"action": "remove", "participants": [me]}
        others = [(m, "participants", notice) for m in self._members(net.info(group_jid))]
        self._tell(group_jid, me, [*others, (me, "left", {})])
