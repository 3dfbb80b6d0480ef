"""The sandbox's groups as stored: two tables in the shared network file, with WhatsApp's rules
(who may change what, the magic numbers; sandbox_groups.py's docstring tells them). Every node of
the machine opens the file, so a group is shared by the sandbox sessions of all of them.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from node_agent import groups
from node_agent.clock import format_ts, utc_now_iso
from node_agent.engines.base import GroupError
from node_agent.engines.sandbox_network import (
    NOT_ON_WHATSAPP_SUFFIX,
    REFUSES_ADDS_SUFFIX,
    NetworkFile,
)
from node_agent.schema import write_transaction

ADD_REQUEST_TTL = timedelta(days=3)
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


def _code() -> str:
    return secrets.token_urlsafe(16).replace("-", "A").replace("_", "B")[:22]


class SandboxGroupNetwork(NetworkFile):
    """The sandbox's groups in the network file at `path` (its own connection, WAL)."""

    SCHEMA = SCHEMA

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
