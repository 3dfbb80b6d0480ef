"""The contact and profile RPC on a node (`protocol.ContactCall`): each operation and its
parameters (wire names; Contact, Profile, ProfileChanges: node_agent/contacts.py).

- `list` {limit (1-500, default 100), offset, query (part of a name or the number)} →
  {contacts: [Contact], total}, from the session's own store (no WhatsApp request);
- `profile` {jid} → Profile; `picture` {jid ("" or absent: the account's own)} →
  {mimetype: "image/jpeg", base64} | null (none, or hidden from the account);
- `block` / `unblock` {jid} → {}; `blocklist` → {jids: [JID]};
- `me` → the account's Profile; `me_update` {changes: ProfileChanges, `picture` as base64 or
  null} → the account's Profile; `lid` {jid} → {phone, lid}.

Answers as node_agent/session_calls.py says: `{"result": ...}` or `{"error", "message"}`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from node_agent import contacts, protocol
from node_agent.contact_events import ContactNames
from node_agent.engines.base import Engine
from node_agent.session_calls import Handler, SessionCalls


class ContactCalls(SessionCalls):
    """Answer ContactCall tasks with the engine that holds the session."""

    def __init__(self, db: Any, db_path: str, engines: Mapping[str, Engine]) -> None:
        self._db = db
        self._engines = engines
        self.names = ContactNames(db_path)  # the push names seen (contact_events.py)

    def _ops(self) -> Mapping[str, Handler]:
        return _OPS  # the module docstring's


def _jid(params: dict[str, Any]) -> str:
    jid = str(params["jid"])
    if not jid.endswith(("@s.whatsapp.net", "@lid")):
        raise ValueError(f"not a person's JID: {jid!r}")
    return jid


def _list(_c: ContactCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    limit = min(max(int(p.get("limit") or 100), 1), contacts.LIST_LIMIT_MAX)
    offset = max(int(p.get("offset") or 0), 0)
    query = str(p.get("query") or "").casefold()
    found = engine.contacts(session_id)
    if query:
        found = [
            c
            for c in found
            if any(query in str(c.get(k) or "").casefold() for k in ("name", "pushName", "phone"))
        ]
    found.sort(key=lambda c: (str(c.get("name") or c.get("pushName") or "").casefold(), c["jid"]))
    return {"contacts": found[offset : offset + limit], "total": len(found)}


def _picture(_c: ContactCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    jid = _jid(p) if p.get("jid") else ""
    data = engine.contact_picture(session_id, jid)
    if data is None:
        return None
    return {"mimetype": "image/jpeg", "base64": base64.b64encode(data).decode()}


def _block(block: bool) -> Handler:
    def run(_c: ContactCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
        engine.contact_block(session_id, _jid(p), block)
        return {}

    return run


def _me_update(_c: ContactCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    changes = dict(p["changes"])
    unknown = set(changes) - set(contacts.PROFILE_CHANGE_KEYS)
    if unknown:
        raise ValueError(f"unknown changes {sorted(unknown)}")
    if changes.get("picture") is not None:
        changes["picture"] = base64.b64decode(changes["picture"], validate=True)
    engine.own_profile_update(session_id, changes)
    return engine.own_profile(session_id)


_OPS: dict[str, Handler] = {
    "list": _list,
    "profile": lambda _c, engine, sid, p: engine.contact_profile(sid, _jid(p)),
    "picture": _picture,
    "block": _block(True),
    "unblock": _block(False),
    "blocklist": lambda _c, engine, sid, p: {"jids": engine.blocklist(sid)},
    "me": lambda _c, engine, sid, p: engine.own_profile(sid),
    "me_update": _me_update,
    "lid": lambda _c, engine, sid, p: engine.lid_lookup(sid, _jid(p)),
}
assert tuple(_OPS) == protocol.ContactCall.OPS, "every operation of the protocol, and no other"
