"""Groups of the sandbox: WhatsApp's group rules among sandbox sessions and contacts.

The groups live in the shared network file (every node of the machine sees them), so two sandbox
sessions, on one node or two, can be in one group. What it simulates:

- A group JID is `120363` + 12 random digits `@g.us`; its creator is its owner and super admin.
- Adding a number whose digits end in `99` answers `not_on_whatsapp` (as sending to it does); one
  ending in `98` is a contact whose privacy settings refuse being added: `invite_required`, with
  an invite code valid 3 days (WhatsApp's own offer, which the API passes on).
- Only admins add, remove, promote, demote, change the settings or the invite link; anyone edits
  the subject, description and picture unless the group is `locked`. A non-member is refused
  `not_participant`, an unknown group `group_not_found`, an unknown invite `invite_invalid`.
- Joining by invite adds the session as a member (joining again is harmless); leaving removes it.
- Every change is told to the members' sessions held by the same engine as `group` events
  (joined, left, participants, updated), as WhatsApp tells every member.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from node_agent import groups, protocol
from node_agent.clock import format_ts, utc_now_iso
from node_agent.engines.base import GroupError
from node_agent.schema import open_sqlite, write_transaction

NOT_ON_WHATSAPP_SUFFIX = "99"
REFUSES_ADDS_SUFFIX = "98"
ADD_REQUEST_TTL = timedelta(days=3)
BUSY_TIMEOUT_S = 10.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_groups (
    jid TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    invite_code TEXT NOT NULL UNIQUE,
    picture_sha TEXT
);
CREATE TABLE IF NOT EXISTS sandbox_group_members (
    group_jid TEXT NOT NULL,
    jid TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin', 'superadmin')),
    added_at TEXT NOT NULL,
    PRIMARY KEY (group_jid, jid)
);
"""
_SETTINGS = ("announce", "locked", "joinApproval")
_DONE = ("added", "removed", "promoted", "demoted")


def _code() -> str:
    return secrets.token_urlsafe(16).replace("-", "A").replace("_", "B")[:22]


class SandboxGroupNetwork:
    """The sandbox's groups in the network file at `path` (its own connection, WAL)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._conn = open_sqlite(path, busy_timeout_s=BUSY_TIMEOUT_S)
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._conn.execute(sql, params).fetchall()]

    def info(self, jid: str) -> dict[str, Any]:
        """Return the GroupInfo of `jid`. Raises GroupError group_not_found."""
        with self._lock:
            return self._info(jid)

    def _info(self, jid: str) -> dict[str, Any]:
        found = self._rows("SELECT * FROM sandbox_groups WHERE jid = ?", (jid,))
        if not found:
            raise GroupError("group_not_found", f"No group {jid} (sandbox).")
        row = found[0]
        members = self._rows(
            "SELECT jid, role FROM sandbox_group_members WHERE group_jid = ?"
            " ORDER BY added_at, jid",
            (jid,),
        )
        settings = json.loads(row["settings"])
        return groups.group_info(
            jid=jid,
            subject=row["subject"],
            description=row["description"],
            owner=row["owner"],
            created_at=row["created_at"],
            announce=settings.get("announce", False),
            locked=settings.get("locked", False),
            join_approval=settings.get("joinApproval", False),
            participants=[
                groups.participant(
                    m["jid"], admin=m["role"] != "member", super_admin=m["role"] == "superadmin"
                )
                for m in members
            ],
        )

    def _role(self, group_jid: str, member: str) -> str | None:
        self._info(group_jid)  # group_not_found first
        found = self._rows(
            "SELECT role FROM sandbox_group_members WHERE group_jid = ? AND jid = ?",
            (group_jid, member),
        )
        return found[0]["role"] if found else None

    def _require(self, group_jid: str, me: str, *, admin: bool) -> None:
        role = self._role(group_jid, me)
        if role is None:
            raise GroupError("not_participant", "This account is not in the group.")
        if admin and role == "member":
            raise GroupError("not_admin", "Only the group's admins can do this.")

    def _add(self, group_jid: str, member: str, role: str = "member") -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO sandbox_group_members (group_jid, jid, role, added_at)"
            " VALUES (?, ?, ?, ?)",
            (group_jid, member, role, utc_now_iso()),
        )

    def of_member(self, member: str) -> list[dict[str, Any]]:
        """Return the GroupInfo of every group `member` is in, by subject."""
        with self._lock:
            jids = self._rows(
                "SELECT g.jid FROM sandbox_groups g JOIN sandbox_group_members m"
                " ON m.group_jid = g.jid WHERE m.jid = ? ORDER BY g.subject, g.jid",
                (member,),
            )
            return [self._info(row["jid"]) for row in jids]

    def create(self, me: str, subject: str, participants: list[str]) -> dict[str, Any]:
        """Create a group owned by `me` with the `participants` that may be added."""
        jid = f"120363{secrets.randbelow(10**12):012d}@{groups.GROUP_SERVER}"
        with self._lock, write_transaction(self._conn):
            self._conn.execute(
                "INSERT INTO sandbox_groups (jid, subject, owner, created_at, invite_code)"
                " VALUES (?, ?, ?, ?, ?)",
                (jid, subject, me, utc_now_iso(), _code()),
            )
            self._add(jid, me, "superadmin")
            for member in participants:
                if _addable(member) is None and member != me:
                    self._add(jid, member)
            return self._info(jid)

    def participants(
        self, me: str, group_jid: str, action: str, participants: list[str]
    ) -> list[dict[str, Any]]:
        """Apply `action` to each participant; return one ParticipantResult each."""
        with self._lock, write_transaction(self._conn):
            self._require(group_jid, me, admin=True)
            return [self._one(group_jid, action, member) for member in participants]

    def _one(self, group_jid: str, action: str, member: str) -> dict[str, Any]:
        role = self._role(group_jid, member)
        if action == "add":
            if role is not None:
                return groups.participant_result(member, "already_participant")
            refusal = _addable(member)
            if refusal is not None:
                return refusal
            self._add(group_jid, member)
            return groups.participant_result(member, "added")
        if role is None:
            return groups.participant_result(member, "not_participant")
        if role == "superadmin" and action in ("remove", "demote"):
            return groups.participant_result(member, "failed", error="the creator cannot be")
        if action == "remove":
            self._conn.execute(
                "DELETE FROM sandbox_group_members WHERE group_jid = ? AND jid = ?",
                (group_jid, member),
            )
            return groups.participant_result(member, "removed")
        new_role = "admin" if action == "promote" else "member"
        self._conn.execute(
            "UPDATE sandbox_group_members SET role = ? WHERE group_jid = ? AND jid = ?",
            (new_role, group_jid, member),
        )
        return groups.participant_result(member, "promoted" if action == "promote" else "demoted")

    def invite_link(self, me: str, group_jid: str, reset: bool) -> str:
        """Return the group's invite link; `reset` replaces its code first (admins only)."""
        with self._lock, write_transaction(self._conn):
            self._require(group_jid, me, admin=True)
            if reset:
                self._conn.execute(
                    "UPDATE sandbox_groups SET invite_code = ? WHERE jid = ?", (_code(), group_jid)
                )
            [row] = self._rows("SELECT invite_code FROM sandbox_groups WHERE jid = ?", (group_jid,))
            return groups.INVITE_LINK_PREFIX + row["invite_code"]

    def by_code(self, code: str) -> str:
        """Return the JID of the group whose invite is `code`. Raises GroupError invite_invalid."""
        with self._lock:
            found = self._rows("SELECT jid FROM sandbox_groups WHERE invite_code = ?", (code,))
        if not found:
            raise GroupError("invite_invalid", "This invite link is not valid (any more).")
        return found[0]["jid"]

    def join(self, me: str, code: str) -> str:
        jid = self.by_code(code)
        with self._lock, write_transaction(self._conn):
            self._add(jid, me)
        return jid

    def update(self, me: str, group_jid: str, changes: dict[str, Any]) -> None:
        """Apply GroupChanges in order; the first refusal raises (earlier ones stay)."""
        for key in groups.CHANGE_KEYS:
            if key not in changes:
                continue
            with self._lock, write_transaction(self._conn):
                locked = json.loads(self._settings(group_jid)).get("locked", False)
                self._require(group_jid, me, admin=key in _SETTINGS or locked)
                value = changes[key]
                if key in ("subject", "description"):
                    self._conn.execute(
                        f"UPDATE sandbox_groups SET {key} = ? WHERE jid = ?", (value, group_jid)
                    )
                elif key == "picture":
                    sha = None if value is None else secrets.token_hex(8)
                    self._conn.execute(
                        "UPDATE sandbox_groups SET picture_sha = ? WHERE jid = ?", (sha, group_jid)
                    )
                else:
                    settings = {**json.loads(self._settings(group_jid)), key: bool(value)}
                    self._conn.execute(
                        "UPDATE sandbox_groups SET settings = ? WHERE jid = ?",
                        (json.dumps(settings), group_jid),
                    )

    def _settings(self, group_jid: str) -> str:
        found = self._rows("SELECT settings FROM sandbox_groups WHERE jid = ?", (group_jid,))
        if not found:
            raise GroupError("group_not_found", f"No group {group_jid} (sandbox).")
        return found[0]["settings"]

    def leave(self, me: str, group_jid: str) -> None:
        with self._lock, write_transaction(self._conn):
            self._require(group_jid, me, admin=False)
            self._conn.execute(
                "DELETE FROM sandbox_group_members WHERE group_jid = ? AND jid = ?",
                (group_jid, me),
            )


def _addable(member: str) -> dict[str, Any] | None:
    """None when `member` may be added; else its ParticipantResult (magic numbers above)."""
    user = member.split("@", 1)[0]
    if user.endswith(NOT_ON_WHATSAPP_SUFFIX):
        return groups.participant_result(member, "not_on_whatsapp")
    if user.endswith(REFUSES_ADDS_SUFFIX):
        expires = format_ts(datetime.now(UTC) + ADD_REQUEST_TTL)
        return groups.participant_result(
            member, "invite_required", invite={"code": _code(), "expiresAt": expires}
        )
    return None


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

    def groups_joined(self, session_id: str) -> list[dict[str, Any]]:
        net, me = self._groups(session_id)
        return net.of_member(me)

    def group_info(self, session_id: str, group_jid: str) -> dict[str, Any]:
        net, _me = self._groups(session_id)
        return net.info(group_jid)

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
