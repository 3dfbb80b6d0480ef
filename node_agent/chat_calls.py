"""The chat and presence RPC on a node (`protocol.ChatCall`): each operation and its parameters
(wire names). Chats are the node's own history grouped by chat; what WhatsApp is told goes
through the session's engine.

- `list` {limit (1-100, default 50), offset} → {chats: [Chat], total}: pinned first, then the
  most recent; Chat = {id (the chat's JID), lastMessage (a history item), unread (incoming
  messages after the last read), archived, pinned (bools), mutedUntil (ISO 8601 | null)}.
- `read` {chat, messageIds?: [WhatsApp ids, at least one]} → {read: n}: read receipts for the
  chat's unread messages up to the newest of those (as WhatsApp's clients read a chat: the
  ones before it too), or for every unread one; the chat is then read up to there.
- `update` {chat, archived?, pinned?, mutedUntil? (ISO 8601 | null)} → Chat, for a chat with
  history here (else `chat_not_found`). Kept by the node: neonize 0.5.2 has no app-state call
  for them, so the phone does not see them.

A person's chat named by their LID is their phone number's chat when the session knows the pair
(the engine's `lid_lookup`), so either form names one chat.
- `delete` {chat} → {deleted: n}: the chat's history and flags on this node (for this device).
- `presence` {state: available | unavailable} → {}; `chat_presence` {chat, state: typing |
  recording | paused} → {}; `subscribe` {jid} → {}: the contact's presence is then reported as
  `presence.update` events.
- `calls` {reject: bool, message: str} → the same: the session's call policy (also sent with
  each SessionStart). With `reject`, every incoming call (a `call` engine event, reported as
  call.received) is declined at once (call.rejected) and, with a `message`, the caller gets
  it as a text, sent by the node outside the API's message log.

Answers as node_agent/session_calls.py says: `{"result": ...}` or `{"error", "message"}`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from node_agent import chats, protocol
from node_agent.engines.base import CallRefused, Engine
from node_agent.messages import history_item
from node_agent.schema import OwnTables, write_transaction
from node_agent.session_calls import Handler, SessionCalls

log = logging.getLogger(__name__)
CHAT_UPDATED_KEYS = ("archived", "pinned", "mutedUntil", "unread")

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_marks (
    session_id TEXT NOT NULL,
    chat_jid TEXT NOT NULL,
    read_up_to INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    pinned INTEGER NOT NULL DEFAULT 0,
    muted_until TEXT,
    PRIMARY KEY (session_id, chat_jid)
);
CREATE TABLE IF NOT EXISTS call_policy (
    session_id TEXT PRIMARY KEY,
    policy TEXT NOT NULL
);
"""
# One row per chat: its newest message's row id, its flags, how many incoming are unread.
LIST_SQL = """
SELECT c.chat_jid, c.last_id, coalesce(k.archived, 0) AS archived,
       coalesce(k.pinned, 0) AS pinned, k.muted_until,
       (SELECT count(*) FROM messages u WHERE u.session_id = c.session_id
         AND u.chat_jid = c.chat_jid AND u.direction = 'in'
         AND u.id > coalesce(k.read_up_to, 0)) AS unread
FROM (SELECT session_id, chat_jid, max(id) AS last_id FROM messages WHERE session_id = ? {chat}
      GROUP BY chat_jid) AS c
LEFT JOIN chat_marks k ON k.session_id = c.session_id AND k.chat_jid = c.chat_jid
ORDER BY pinned DESC, c.last_id DESC LIMIT ? OFFSET ?
"""


class ChatStore(OwnTables):
    """Chats of the node's history, and what the node keeps of each (read mark, flags), in the
    node's SQLite file: its own connection and table, reading NodeDatabase's messages (and
    deleting a chat's), which must exist first."""

    SCHEMA = SCHEMA

    def page(self, session_id: str, limit: int, offset: int) -> tuple[list[dict], int]:
        with self._lock:
            total = self._conn.execute(
                "SELECT count(DISTINCT chat_jid) FROM messages WHERE session_id = ?",
                (session_id,),
            ).fetchone()[0]
        return self._chats(session_id, limit, offset), total

    def one(self, session_id: str, chat: str) -> dict[str, Any]:
        """Return the chat as it is now (a bare Chat when it has no history here)."""
        found = self._chats(session_id, 1, 0, chat)
        return found[0] if found else chats.chat(chat)

    def _chats(self, session_id: str, limit: int, offset: int, chat: str = "") -> list[dict]:
        """Return the page of the session's chats (one chat's only, with `chat`)."""
        sql = LIST_SQL.format(chat="AND chat_jid = ?" if chat else "")
        args = (session_id, chat, limit, offset) if chat else (session_id, limit, offset)
        with self._lock:
            rows = [dict(r) for r in self._conn.execute(sql, args)]
            last = {r["last_id"] for r in rows}
            messages = {
                m["id"]: dict(m)
                for m in self._conn.execute(
                    f"SELECT * FROM messages WHERE id IN ({','.join('?' * len(last))})",
                    tuple(last),
                )
            }
        return [_chat(row, messages.get(row["last_id"])) for row in rows]

    def unread(self, session_id: str, chat: str) -> list[tuple[int, str, str]]:
        """Return (row id, WhatsApp id, sender JID) of the chat's unread incoming messages."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, wa_message_id, payload FROM messages WHERE session_id = ? AND"
                " chat_jid = ? AND direction = 'in' AND wa_message_id IS NOT NULL AND id >"
                " coalesce((SELECT read_up_to FROM chat_marks WHERE session_id = ? AND"
                " chat_jid = ?), 0) ORDER BY id",
                (session_id, chat, session_id, chat),
            ).fetchall()
        return [(r[0], r[1], chats.sender_of(r[2], chat)) for r in rows]

    def known(self, session_id: str, chat: str) -> bool:
        """Tell whether the chat has any message in the node's history."""
        with self._lock:
            return bool(
                self._conn.execute(
                    "SELECT 1 FROM messages WHERE session_id = ? AND chat_jid = ? LIMIT 1",
                    (session_id, chat),
                ).fetchone()
            )

    def mark(self, session_id: str, chat: str, **flags: Any) -> None:
        """Set the chat's `read_up_to` (a row id, never lower than before; True: its newest
        message), `archived`, `pinned` or `muted_until`."""
        with self._lock, write_transaction(self._conn):
            self._conn.execute(
                "INSERT OR IGNORE INTO chat_marks (session_id, chat_jid) VALUES (?, ?)",
                (session_id, chat),
            )
            for column, value in flags.items():
                if column == "read_up_to" and value is True:
                    value = self._conn.execute(
                        "SELECT coalesce(max(id), 0) FROM messages WHERE session_id = ?"
                        " AND chat_jid = ?",
                        (session_id, chat),
                    ).fetchone()[0]
                if column == "read_up_to":
                    value = max(value, self._read_up_to(session_id, chat))
                self._conn.execute(
                    f"UPDATE chat_marks SET {column} = ? WHERE session_id = ? AND chat_jid = ?",
                    (value, session_id, chat),
                )

    def calls_set(self, session_id: str, policy: dict[str, Any]) -> dict[str, Any]:
        """Keep the session's call policy (module docstring); return it as kept."""
        kept = {"reject": bool(policy.get("reject")), "message": str(policy.get("message") or "")}
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO call_policy VALUES (?, ?)", (session_id, json.dumps(kept))
            )
        return kept

    def calls(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._conn.execute(
                "SELECT policy FROM call_policy WHERE session_id = ?", (session_id,)
            ).fetchone()
        return json.loads(row[0]) if row else {"reject": False, "message": ""}

    def _read_up_to(self, session_id: str, chat: str) -> int:
        row = self._conn.execute(
            "SELECT read_up_to FROM chat_marks WHERE session_id = ? AND chat_jid = ?",
            (session_id, chat),
        ).fetchone()
        return int(row[0]) if row else 0

    def delete(self, session_id: str, chat: str) -> int:
        with self._lock, write_transaction(self._conn):
            gone = self._conn.execute(
                "DELETE FROM messages WHERE session_id = ? AND chat_jid = ?", (session_id, chat)
            ).rowcount
            self._conn.execute(
                "DELETE FROM chat_marks WHERE session_id = ? AND chat_jid = ?", (session_id, chat)
            )
        return gone


def _chat(row: dict[str, Any], last: dict[str, Any] | None) -> dict[str, Any]:
    if last is not None:
        last["payload"] = chats.loads(last["payload"])
    return chats.chat(
        row["chat_jid"],
        last_message=history_item(last) if last else None,
        unread=row["unread"],
        archived=bool(row["archived"]),
        pinned=bool(row["pinned"]),
        muted_until=row["muted_until"],
    )


class ChatCalls(SessionCalls):
    """Answer ChatCall tasks with the engine that holds the session and the node's store."""

    def __init__(
        self, db: Any, db_path: str, engines: Mapping[str, Engine], reporter: Any = None
    ) -> None:
        self._db = db
        self._engines = engines
        self._reporter = reporter
        self.store = ChatStore(db_path)

    def changed(self, session_id: str, chat: str) -> dict[str, Any]:
        """Report the chat as it is now (chat.updated: {chatId, archived, pinned, mutedUntil,
        unread}) after a read, a flag or a delete; return it."""
        now = self.store.one(session_id, chat)
        if self._reporter is not None:
            data = {"chatId": chat, **{k: now[k] for k in CHAT_UPDATED_KEYS}}
            self._reporter.session_event(session_id, "chat.updated", secrets.token_hex(16), data)
        return now

    def _ops(self) -> Mapping[str, Handler]:
        return _OPS  # the module docstring's

    def call_received(self, session_id: str, call: dict[str, Any]) -> dict[str, Any] | None:
        """Apply the session's call policy to a `call` engine event: decline it (and send the
        message) when it says so; return the call.rejected event's data, else None. A refusal
        of the engine is logged and the call is left ringing."""
        policy = self.store.calls(session_id)
        row = self._db.session_get(session_id, full=False)
        engine = self._engines.get(row["engine"]) if row else None
        if not policy["reject"] or engine is None:
            return None
        try:
            engine.call_reject(session_id, call["from"], call["callId"])
        except CallRefused as exc:
            log.warning("call of %s not declined: %s", session_id, exc.code)
            return None
        if policy["message"]:
            self._reply(engine, session_id, call, policy["message"])
        return {"from": call["from"], "callId": call["callId"], "message": policy["message"]}

    def _reply(self, engine: Engine, session_id: str, call: dict[str, Any], text: str) -> None:
        to = call["from"]
        payload = {"type": "text", "text": text, "chatId": to, "to": to.split("@")[0]}
        try:
            engine.send(session_id, f"call-reply-{call['callId']}"[:100], payload)
        except Exception as exc:  # best effort: the call is declined whatever comes of it
            log.warning("call reply of %s not sent: %s", session_id, type(exc).__name__)


def _list(c: ChatCalls, _engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    limit = min(max(int(p.get("limit") or 50), 1), chats.LIST_LIMIT_MAX)
    found, total = c.store.page(session_id, limit, max(int(p.get("offset") or 0), 0))
    return {"chats": found, "total": total}


def _chat_of(engine: Engine, session_id: str, value: Any) -> str:
    """Return the JID a chat is kept under: a person's LID is their phone number's chat when
    the session knows the pair (so either form names one chat)."""
    jid = chats.chat_jid(value)
    if jid.endswith("@lid"):
        try:
            phone = engine.lid_lookup(session_id, jid).get("phone")
        except CallRefused:
            phone = None
        if phone:
            return f"{phone}@s.whatsapp.net"
    return jid


def _read(c: ChatCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    chat = _chat_of(engine, session_id, p["chat"])
    asked = None
    if "messageIds" in p:
        asked = [str(i) for i in p["messageIds"]][: chats.READ_MAX]
        if not asked:
            raise ValueError("no message ids")
    items = c.store.unread(session_id, chat)  # what is read already counts nothing
    if asked is not None:  # up to the newest of them, as WhatsApp's clients read a chat
        given = [row_id for row_id, wa_id, _ in items if wa_id in set(asked)]
        items = [item for item in items if given and item[0] <= max(given)]
    if items:
        engine.mark_read(session_id, chat, [(wa_id, sender) for _, wa_id, sender in items])
        up_to = True if asked is None else max(row_id for row_id, _, _ in items)
        c.store.mark(session_id, chat, read_up_to=up_to)
        c.changed(session_id, chat)
    return {"read": len(items)}


def _update(c: ChatCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    chat = _chat_of(engine, session_id, p["chat"])
    flags: dict[str, Any] = {}
    for key, column in (("archived", "archived"), ("pinned", "pinned")):
        if key in p:
            flags[column] = int(bool(p[key]))
    if "mutedUntil" in p:
        flags["muted_until"] = p["mutedUntil"] or None
    if not flags:
        raise ValueError("nothing to change")
    if not c.store.known(session_id, chat):
        raise CallRefused("chat_not_found", "The session has no such chat on this node.")
    c.store.mark(session_id, chat, **flags)
    return c.changed(session_id, chat)


def _delete(c: ChatCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    chat = _chat_of(engine, session_id, p["chat"])
    deleted = c.store.delete(session_id, chat)
    if deleted:
        c.changed(session_id, chat)
    return {"deleted": deleted}


def _presence(_c: ChatCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    state = str(p["state"])
    if state not in chats.PRESENCE_STATES:
        raise ValueError(f"unknown presence {state!r}")
    engine.presence_set(session_id, state == "available")
    return {}


def _chat_presence(_c: ChatCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    state = str(p["state"])
    if state not in chats.CHAT_PRESENCE_STATES:
        raise ValueError(f"unknown chat presence {state!r}")
    engine.chat_presence(session_id, _chat_of(engine, session_id, p["chat"]), state)
    return {}


def _subscribe(_c: ChatCalls, engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    engine.presence_subscribe(session_id, chats.person_jid(p["jid"]))
    return {}


def _calls(c: ChatCalls, _engine: Engine, session_id: str, p: dict[str, Any]) -> Any:
    if not isinstance(p.get("reject"), bool):
        raise ValueError("reject must be true or false")
    return c.store.calls_set(session_id, p)


_OPS: dict[str, Handler] = {
    "list": _list,
    "read": _read,
    "update": _update,
    "delete": _delete,
    "presence": _presence,
    "chat_presence": _chat_presence,
    "subscribe": _subscribe,
    "calls": _calls,
}
assert tuple(_OPS) == protocol.ChatCall.OPS, "every operation of the protocol, and no other"
