"""The group RPC on a node (`protocol.GroupCall`): each operation, its parameters, and the node's
own store of the groups it lists.

Operations and their `params` (wire names; GroupInfo etc.: node_agent/groups.py):

- `list` {limit (1-500, default 100), offset, query (part of the subject), refresh (bool)} →
  {groups: [GroupInfo], total, refreshedAt}. Served from the node's store, filled from WhatsApp
  in one call (`groups_joined`) when it is older than LIST_MAX_AGE_S, never filled, or asked to
  `refresh`; so hundreds of groups list fast and never cost one WhatsApp request each.
- `info` {group} → GroupInfo; `create` {subject, participants: [JID]} → GroupInfo;
  `participants` {group, action, participants} → [ParticipantResult];
  `invite_link` {group, reset} → {link, code}; `invite_info` {code} → GroupInfo;
  `join` {code} → {id}; `update` {group, changes: GroupChanges, `picture` as base64 or null}
  → GroupInfo; `leave` {group} → {}.

Every answer is `{"result": ...}` or `{"error": code, "message": str}`: a GroupError's code,
`session_not_connected`, or `bad_request` for parameters the backend should not have sent.
What changes a group also refreshes its row in the store (info, create, participants, update),
and leaving deletes it.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from node_agent import groups, protocol
from node_agent.clock import utc_now_iso
from node_agent.engines.base import Engine, GroupError
from node_agent.schema import OwnTables, write_transaction
from node_agent.session_calls import Handler, SessionCalls

log = logging.getLogger(__name__)

LIST_MAX_AGE_S = 300.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS session_groups (
    session_id TEXT NOT NULL,
    jid TEXT NOT NULL,
    subject TEXT NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (session_id, jid)
);
CREATE INDEX IF NOT EXISTS session_groups_subject ON session_groups (session_id, subject);
CREATE TABLE IF NOT EXISTS session_groups_refreshed (
    session_id TEXT PRIMARY KEY,
    refreshed_at TEXT NOT NULL,
    monotonic_s REAL NOT NULL
);
"""


class GroupStore(OwnTables):
    """The groups each session is in, as last seen, in the node's SQLite file (its own
    connection and tables; NodeDatabase owns the rest of the file)."""

    SCHEMA = SCHEMA

    def replace(self, session_id: str, infos: list[dict[str, Any]], monotonic_s: float) -> str:
        """Store `infos` as all the session's groups; return when (ISO 8601 UTC)."""
        now = utc_now_iso()
        with self._lock, write_transaction(self._conn):
            self._conn.execute("DELETE FROM session_groups WHERE session_id = ?", (session_id,))
            self._conn.executemany(
                "INSERT OR REPLACE INTO session_groups (session_id, jid, subject, info)"
                " VALUES (?, ?, ?, ?)",
                [(session_id, i["id"], i["subject"], json.dumps(i)) for i in infos],
            )
            self._conn.execute(
                "INSERT OR REPLACE INTO session_groups_refreshed VALUES (?, ?, ?)",
                (session_id, now, monotonic_s),
            )
        return now

    def put(self, session_id: str, info: dict[str, Any]) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO session_groups (session_id, jid, subject, info)"
                " VALUES (?, ?, ?, ?)",
                (session_id, info["id"], info["subject"], json.dumps(info)),
            )

    def drop(self, session_id: str, jid: str) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute(
                "DELETE FROM session_groups WHERE session_id = ? AND jid = ?", (session_id, jid)
            )

    def stale(self, session_id: str) -> None:
        """Make the session's next listing ask WhatsApp."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM session_groups_refreshed WHERE session_id = ?", (session_id,)
            )

    def refreshed(self, session_id: str) -> tuple[str, float] | None:
        """Return (ISO time, monotonic seconds) of the session's last fill, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT refreshed_at, monotonic_s FROM session_groups_refreshed"
                " WHERE session_id = ?",
                (session_id,),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def page(
        self, session_id: str, *, query: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Return a page of the session's groups by subject (case-insensitive) and the total."""
        where = "session_id = ?"
        params: list[Any] = [session_id]
        if query:
            where += " AND instr(casefold(subject), ?) > 0"  # casefold: open_sqlite's, Unicode
            params.append(query.casefold())
        with self._lock:
            total = self._conn.execute(
                f"SELECT count(*) FROM session_groups WHERE {where}", params
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT info FROM session_groups WHERE {where}"
                " ORDER BY subject COLLATE NOCASE, jid LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [json.loads(row[0]) for row in rows], total


class GroupCalls(SessionCalls):
    """Answer GroupCall tasks with the session's engine and the node's store at `db_path`."""

    def __init__(
        self, db: Any, db_path: str, engines: Mapping[str, Engine], clock: Callable[[], float]
    ) -> None:
        self._db = db
        self._engines = engines
        self._clock = clock
        self.store = GroupStore(db_path)

    def changed(self, session_id: str, event: dict[str, Any]) -> None:
        """A `group` event of the session's engine: its copy of the group is stale (forgotten
        when the session left it, else the next listing asks WhatsApp again)."""
        if event.get("event") == "left":
            self.store.drop(session_id, str(event.get("group")))
        self.store.stale(session_id)

    def _ops(self) -> Mapping[str, Handler]:
        return _OPS  # the module docstring's

    def _list(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, Any]:
        limit = min(max(int(p.get("limit") or 100), 1), groups.LIST_LIMIT_MAX)
        offset = max(int(p.get("offset") or 0), 0)
        last = self.store.refreshed(session_id)
        if p.get("refresh") or last is None or self._clock() - last[1] > LIST_MAX_AGE_S:
            now = self._clock()
            refreshed_at = self.store.replace(session_id, engine.groups_joined(session_id), now)
        else:
            refreshed_at = last[0]
        items, total = self.store.page(
            session_id, query=str(p.get("query") or ""), limit=limit, offset=offset
        )
        return {"groups": items, "total": total, "refreshedAt": refreshed_at}

    def _kept(self, session_id: str, info: dict[str, Any]) -> dict[str, Any]:
        self.store.put(session_id, info)
        return info

    def _info(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, Any]:
        return self._kept(session_id, engine.group_info(session_id, _jid(p)))

    def _create(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, Any]:
        info = engine.group_create(session_id, str(p["subject"]), _jids(p["participants"]))
        return self._kept(session_id, info)

    def _participants(self, engine: Engine, session_id: str, p: dict[str, Any]) -> list[Any]:
        action = str(p["action"])
        if action not in groups.PARTICIPANT_ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        group = _jid(p)
        results = engine.group_participants(session_id, group, action, _jids(p["participants"]))
        self._refresh_one(engine, session_id, group)
        return results

    def _refresh_one(self, engine: Engine, session_id: str, group: str) -> None:
        try:
            self.store.put(session_id, engine.group_info(session_id, group))
        except GroupError:  # the change is done; the store catches up on the next list
            log.info("group %s of %s not re-read after a change", group, session_id)

    def _invite_link(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, str]:
        link = engine.group_invite_link(session_id, _jid(p), bool(p.get("reset")))
        return {"link": link, "code": groups.invite_code(link) or ""}

    def _invite_info(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, Any]:
        return engine.group_invite_info(session_id, _code(p))

    def _join(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, str]:
        group = engine.group_join(session_id, _code(p))
        self._refresh_one(engine, session_id, group)
        return {"id": group}

    def _update(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, Any]:
        group, changes = _jid(p), dict(p["changes"])
        unknown = set(changes) - set(groups.CHANGE_KEYS)
        if unknown:
            raise ValueError(f"unknown changes {sorted(unknown)}")
        if changes.get("picture") is not None:
            changes["picture"] = base64.b64decode(changes["picture"], validate=True)
        engine.group_update(session_id, group, changes)
        return self._kept(session_id, engine.group_info(session_id, group))

    def _leave(self, engine: Engine, session_id: str, p: dict[str, Any]) -> dict[str, Any]:
        group = _jid(p)
        engine.group_leave(session_id, group)
        self.store.drop(session_id, group)
        return {}


def _jid(params: dict[str, Any]) -> str:
    jid = groups.group_jid(str(params["group"]))
    if jid is None:
        raise ValueError(f"not a group JID: {params['group']!r}")
    return jid


def _code(params: dict[str, Any]) -> str:
    code = groups.invite_code(str(params["code"]))
    if code is None:
        raise ValueError("not an invite code or link")
    return code


def _jids(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and "@" in v for v in values):
        raise ValueError("participants must be a list of JIDs")
    return list(dict.fromkeys(values))


_OPS: dict[str, Callable[[GroupCalls, Engine, str, dict[str, Any]], Any]] = {
    "list": GroupCalls._list,
    "info": GroupCalls._info,
    "create": GroupCalls._create,
    "participants": GroupCalls._participants,
    "invite_link": GroupCalls._invite_link,
    "invite_info": GroupCalls._invite_info,
    "join": GroupCalls._join,
    "update": GroupCalls._update,
    "leave": GroupCalls._leave,
}
assert tuple(_OPS) == protocol.GroupCall.OPS, "every operation of the protocol, and no other"
