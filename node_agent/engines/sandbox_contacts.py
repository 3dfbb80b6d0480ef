"""Contacts and profiles of the sandbox (the contact calls of node_agent.engines.base).

A sandbox session's contacts are the people it has written to, who wrote to it, and the members
of its groups. Every sandbox number has a profile, with magic numbers (by the last digits) so
integrations can test each case:

- `…97`: a business (`business` true, `verifiedName` "Sandbox Shop <last 4>");
- `…96`: hides its profile picture and its "about" (as WhatsApp's privacy settings do);
- `…77`: has a LID, `9<its digits reversed>@lid` (so `6281200000077` is `97700000021826@lid`):
  lookups map one form to the other, and its Contact carries both.

Every other number shows a generated picture (a JPEG in a colour of its own) and the about text
"Hey there! I am using WhatsApp.". Blocking is kept per session. The account's own push name,
about and picture are kept in the shared network file with its groups; when a sandbox session
changes its push name or picture, the sessions of the same engine that know it (wrote to it,
heard from it, share a group) get a `contact` event, and its messages carry the new push name.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from typing import Any

from node_agent import contacts, protocol
from node_agent.contact_events import contact_event
from node_agent.engines.base import CallRefused
from node_agent.engines.sandbox_network import NetworkFile
from node_agent.schema import write_transaction

BUSINESS_SUFFIX = "97"
PRIVATE_SUFFIX = "96"
HAS_LID_SUFFIX = "77"
ABOUT = "Hey there! I am using WhatsApp."
SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_contacts (
    session_id TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (session_id, jid)
);
CREATE TABLE IF NOT EXISTS sandbox_blocks (
    session_id TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (session_id, jid)
);
CREATE TABLE IF NOT EXISTS sandbox_profiles (
    jid TEXT PRIMARY KEY,
    profile TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sandbox_push_names (
    jid TEXT PRIMARY KEY,
    push_name TEXT NOT NULL
);
"""


def sandbox_lid(phone: str) -> str | None:
    """Return the LID of a sandbox number (`…77` only, module docstring), else None."""
    return f"9{phone[::-1]}@lid" if phone.endswith(HAS_LID_SUFFIX) else None


def sandbox_phone_of_lid(lid: str) -> str | None:
    """Return the sandbox number of a LID `sandbox_lid` made, else None."""
    user = lid.removesuffix("@lid")
    phone = user[1:][::-1] if user.startswith("9") and user.isdigit() else ""
    return phone if phone and sandbox_lid(phone) == lid else None


def sandbox_picture(phone: str) -> bytes:
    """Return the generated profile picture of a sandbox number: a 96×96 JPEG."""
    from PIL import Image  # only when a picture is asked for

    digest = hashlib.sha256(phone.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (digest[0], digest[1], digest[2])).save(out, "JPEG")
    return out.getvalue()


class SandboxContactBook(NetworkFile):
    """Contacts, blocks and own profiles in the network file at `path` (its own connection)."""

    SCHEMA = SCHEMA

    def _column(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return [row[0] for row in self._conn.execute(sql, params).fetchall()]

    def met(self, session_id: str, jid: str) -> None:
        """Remember that the session wrote to, or heard from, `jid` (a phone or LID JID)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO sandbox_contacts VALUES (?, ?)", (session_id, jid)
            )

    def known(self, session_id: str) -> list[str]:
        return self._column(
            "SELECT jid FROM sandbox_contacts WHERE session_id = ? ORDER BY jid", (session_id,)
        )

    def block(self, session_id: str, jid: str, block: bool) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute(
                "DELETE FROM sandbox_blocks WHERE session_id = ? AND jid = ?", (session_id, jid)
            )
            if block:
                self._conn.execute("INSERT INTO sandbox_blocks VALUES (?, ?)", (session_id, jid))

    def blocked(self, session_id: str) -> list[str]:
        return self._column(
            "SELECT jid FROM sandbox_blocks WHERE session_id = ? ORDER BY jid", (session_id,)
        )

    def own(self, jid: str) -> dict[str, Any]:
        found = self._column("SELECT profile FROM sandbox_profiles WHERE jid = ?", (jid,))
        return json.loads(found[0]) if found else {}

    def push_name(self, jid: str) -> str | None:
        found = self._column("SELECT push_name FROM sandbox_push_names WHERE jid = ?", (jid,))
        return found[0] if found else None

    def push_name_set(self, jid: str, name: str) -> None:
        """Keep the push name a contact of the sandbox gave themselves (`incoming`'s)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO sandbox_push_names VALUES (?, ?)", (jid, name)
            )

    def own_set(self, jid: str, values: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO sandbox_profiles VALUES (?, ?)", (jid, json.dumps(values))
            )


def _person(jid: str) -> tuple[str, str | None]:
    """Return (phone, lid) of a sandbox JID. Raises CallRefused contact_not_found."""
    if jid.endswith("@lid"):
        phone = sandbox_phone_of_lid(jid)
        if phone is None:
            raise CallRefused("contact_not_found", f"No sandbox number has the LID {jid}.")
        return phone, jid
    phone = contacts.phone_of(jid) or ""
    if not phone or phone.endswith("99"):  # the network's "not on WhatsApp"
        raise CallRefused("contact_not_found", f"{jid} is not on WhatsApp (sandbox).")
    return phone, sandbox_lid(phone)


class SandboxContacts:
    """The contact calls of SandboxEngine (a mixin: it uses the engine's sessions, lock, config
    and its groups' network)."""

    _sessions: dict[str, Any]
    _lock: Any
    _config: Any
    _contact_book: SandboxContactBook | None = None
    _contacts_met: set[tuple[str, str]] | None = None  # written already: skip the write

    def _book(self, session_id: str) -> tuple[SandboxContactBook, str]:
        """Return the contact book and the session's own JID. Raises CallRefused
        session_not_connected."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.state != "connected" or not session.credentials:
                raise CallRefused("session_not_connected", "Session is not connected.")
            if self._contact_book is None:
                self._contact_book = SandboxContactBook(self._config.sandbox_network_path)
            return self._contact_book, protocol.user_jid(session.credentials["phoneNumber"])

    def contact_met(self, session_id: str, jid: str) -> None:
        """Note a person the session wrote to or heard from (the engine's send and incoming)."""
        if not jid.endswith(("@s.whatsapp.net", "@lid")):
            return
        if self._contacts_met is None:
            self._contacts_met = set()
        if (session_id, jid) not in self._contacts_met:
            self._book(session_id)[0].met(session_id, jid)
            self._contacts_met.add((session_id, jid))

    def _people(self, session_id: str, book: SandboxContactBook, me: str) -> set[str]:
        """Return the JIDs the session knows: met, and the members of its groups."""
        people = set(book.known(session_id))
        for info in self.groups_joined(session_id):  # type: ignore[attr-defined]
            people.update(p["jid"] for p in info["participants"])
        people.discard(me)
        return people

    def push_name_of(self, session_id: str, jid: str) -> str:
        """Return the push name of sandbox number `jid`: a sandbox session's own (its profile),
        else the last one it wrote under (`incoming`), else `Sandbox <last 4 digits>`."""
        book, _me = self._book(session_id)
        person = protocol.user_jid(contacts.phone_of(jid) or "")
        found = book.own(person).get("pushName") or book.push_name(person)
        return found or f"Sandbox {person.split('@')[0][-4:]}"

    def contacts(self, session_id: str) -> list[dict[str, Any]]:
        book, me = self._book(session_id)
        people = self._people(session_id, book, me)
        found = []
        for jid in sorted(people):
            try:
                phone, lid = _person(jid)
            except CallRefused:
                continue
            jid = protocol.user_jid(phone)
            found.append(
                contacts.contact(jid, lid=lid, push_name=self.push_name_of(session_id, jid))
            )
        return found

    def contact_profile(self, session_id: str, jid: str) -> dict[str, Any]:
        self._book(session_id)
        book, _me = self._book(session_id)
        phone, lid = _person(jid)
        private = phone.endswith(PRIVATE_SUFFIX)
        business = phone.endswith(BUSINESS_SUFFIX)
        own = book.own(protocol.user_jid(phone))  # a sandbox session's own profile, if any
        return contacts.profile(
            protocol.user_jid(phone),
            lid=lid,
            push_name=self.push_name_of(session_id, protocol.user_jid(phone)),
            about=None if private else own.get("about", ABOUT),
            business=business,
            verified_name=f"Sandbox Shop {phone[-4:]}" if business else None,
            has_picture=not private and bool(own.get("picture", True)),
        )

    def contact_picture(self, session_id: str, jid: str) -> bytes | None:
        book, me = self._book(session_id)
        if not jid or jid == me:
            own = book.own(me)
            return bytes.fromhex(own["picture"]) if own.get("picture") else None
        phone, _lid = _person(jid)
        if phone.endswith(PRIVATE_SUFFIX):
            return None
        own = book.own(protocol.user_jid(phone))
        if "picture" in own:  # a sandbox session's own, set or removed
            return bytes.fromhex(own["picture"]) if own["picture"] else None
        return sandbox_picture(phone)

    def contact_block(self, session_id: str, jid: str, block: bool) -> None:
        book, _me = self._book(session_id)
        phone, _lid = _person(jid)
        book.block(session_id, protocol.user_jid(phone), block)

    def blocklist(self, session_id: str) -> list[str]:
        book, _me = self._book(session_id)
        return book.blocked(session_id)

    def own_profile(self, session_id: str) -> dict[str, Any]:
        book, me = self._book(session_id)
        own = book.own(me)
        return contacts.profile(
            me,
            push_name=own.get("pushName") or f"Sandbox {me.split('@')[0][-4:]}",
            about=own.get("about", ABOUT),
            has_picture=bool(own.get("picture")),
        )

    def own_profile_update(self, session_id: str, changes: dict[str, Any]) -> None:
        book, me = self._book(session_id)
        own = book.own(me)
        before = dict(own)
        for key in contacts.PROFILE_CHANGE_KEYS:
            if key in changes:
                value = changes[key]
                own[key] = value.hex() if key == "picture" and value is not None else value
        book.own_set(me, own)
        told: dict[str, Any] = {}  # what changed that contacts are told (not the about)
        if own.get("pushName") != before.get("pushName"):
            told["pushName"] = own["pushName"]
        if own.get("picture") != before.get("picture"):
            told["picture"] = own.get("picture") is not None
        if told:
            self._tell_contacts(me, told)

    def _tell_contacts(self, me: str, changes: dict[str, Any]) -> None:
        """Emit a `contact` event of `me` to this engine's connected sessions that know it, as
        WhatsApp tells the account's contacts. Sessions on other nodes are not told."""
        key = secrets.token_hex(8)
        with self._lock:
            for other in list(self._sessions.values()):
                if other.state != "connected" or not other.credentials:
                    continue
                book, other_me = self._book(other.session_id)
                if other_me != me and me in self._people(other.session_id, book, other_me):
                    event = contact_event(me, changes, key=key, lid=sandbox_lid(me.split("@")[0]))
                    self._later(0, other, self._contact_emit, event)  # type: ignore[attr-defined]

    def _contact_emit(self, session: Any, event: dict[str, Any]) -> None:
        self.emit(session.session_id, "contact", **event)  # type: ignore[attr-defined]

    def lid_lookup(self, session_id: str, jid: str) -> dict[str, Any]:
        self._book(session_id)
        phone, lid = _person(jid)
        return {"phone": phone, "lid": lid}
