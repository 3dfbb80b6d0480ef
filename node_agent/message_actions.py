"""What a contact does to a message: react, edit, revoke (delete for everyone). The shapes of
the engines' `event` events of these types and of their webhook events.

Each event's data: {chatId, messageId (WhatsApp's id of the message acted on), from (the
sender's phone digits, else their LID's number, as message.received's), senderJid (their JID
as WhatsApp addressed it), fromPhone, fromLid (each when known), timestamp (ISO 8601 UTC)}
and, per type:

- message.reaction: `emoji` ("" when the reaction was taken back);
- message.edited: `text` (the new text or caption);
- message.revoked: nothing more (WhatsApp keeps no content);
- message.read: a member of a group read a message the session sent: `from` is the reader (a
  message's own status turns `read` at the first reader; this says who and when each);
- poll.vote: a vote on a poll the session sent (`messageId` is the poll's): `selected`, the
  options chosen now (a later vote replaces an earlier one; [] takes it back). WhatsApp sends
  each option as the SHA-256 of its text (whatsmeow's DecryptPollVote); the node names them
  from the poll it sent (vote_named).

A message can be edited within 15 minutes of sending (WhatsApp's help centre, "How to edit
messages"; whatsmeow's EditWindow constant is 20 minutes, the server's grace); WhatsApp checks
it, not the gateway.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

REACTION, EDITED, REVOKED = "message.reaction", "message.edited", "message.revoked"
READ = "message.read"
VOTE = "poll.vote"
ACTIONS = {"react": REACTION, "edit": EDITED, "revoke": REVOKED, "vote": VOTE}


def vote_named(poll: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """Return a poll.vote's data with `selected` named from the `poll` payload the session sent
    (its `options`), in place of `selectedHashes` (hex SHA-256 of each option's text); a hash
    of no option stays as it came."""
    hashes = data.get("selectedHashes")
    if hashes is None:
        return data
    options = (poll or {}).get("options") or []
    names = {hashlib.sha256(str(o).encode()).hexdigest(): str(o) for o in options}
    named = {k: v for k, v in data.items() if k != "selectedHashes"}
    named["selected"] = [names.get(h, h) for h in hashes]
    return named


def action_event(type_: str, *, wa_id: str, **data: Any) -> dict[str, Any]:
    """Return an engine `event` (emit()'s keywords) of `type_`; `wa_id` is WhatsApp's id of the
    message that carried the action (its repeat gets the same event id)."""
    key = json.dumps([type_, wa_id, data.get("chatId")], separators=(",", ":"))
    return {"type": type_, "event_id": hashlib.sha256(key.encode()).hexdigest()[:32], "data": data}
