"""Contacts and the account's profile through the WhatsApp engine: neonize 0.5.2's calls, answered
in node_agent/contacts.py shapes, with whatsmeow's refusals turned into CallRefused codes.

Sources (neonize client.py; its Go side goneonize/main.go, contact_store.go): the session's own
store (whatsmeow store/sqlstore, no WhatsApp request) for the contact list (ContactInfo: FullName
and FirstName as the phone saved them, PushName, BusinessName), phone ⇄ LID pairs (a pair it
lacks answers an empty JID) and the own device (`get_me`); WhatsApp's info queries (whatsmeow
user.go, group.go) for the rest: `get_user_info` (usync: Status is the "about", PictureID,
VerifiedName, Devices; whatsmeow stores the LIDs it learns, so pairs are read after it),
`get_profile_picture` (a CDN URL the node downloads itself), the blocklist, and the own profile's
setters. Mapping functions are duck-typed over neonize's protobuf types (never imported here).

What neonize 0.5.2 cannot do, though whatsmeow can: remove the profile picture (SetProfilePhoto
calls whatsmeow's SetGroupPhoto with the empty JID and always a non-nil slice; nil would remove)
and tell a person's LID from get_user_info (its UserInfo has no LID field; the store learns it).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from functools import partial
from typing import Any

import requests

from node_agent import contacts as shapes
from node_agent.config import NodeConfig
from node_agent.engines.base import CallRefused
from node_agent.engines.whatsapp import mapping
from node_agent.engines.whatsapp.ffi import FfiGate, load_neonize
from node_agent.engines.whatsapp.groups import NOT_CONNECTED_TEXTS, bare_jid, jid_or_none
from node_agent.engines.whatsapp.registry import SessionRegistry
from node_agent.engines.whatsapp.run import SessionRun

Rules = tuple[tuple[str, str], ...]

# whatsmeow's not-connected texts (groups.py), and goneonize/main.go's own for a client its
# registry lacks (SetPushName).
NOT_CONNECTED = (*NOT_CONNECTED_TEXTS, "client not found")
# Calls naming a person. UpdateBlocklist asks WhatsApp for the LID of a phone JID and fails with
# "no LID found for <jid> from server" when it has none (user.go); an IQ 404 is item-not-found.
PERSON_ERROR_TEXTS: Rules = (
    ("no lid found for", "contact_not_found"),
    ("info query returned status 404", "contact_not_found"),
)
# GetProfilePictureInfo's errors (errors.go) for no picture (IQ 404 or status 204) and for one
# hidden from the account (IQ 401): contact_picture answers None.
NO_PICTURE_TEXTS = (
    "that user or group does not have a profile picture",
    "the user has hidden their profile picture from you",
)
PERSON_SERVERS = (shapes.PHONE_SERVER, shapes.LID_SERVER)
STORE_STATES = ("connected", "reconnecting")  # the Go client lives while connect() runs
# ProfileChanges key → (neonize setter, the type it is given)
PROFILE_SETTERS = {
    "pushName": ("set_profile_name", str),
    "about": ("set_status_message", str),
    "picture": ("set_profile_photo", bytes),
}

PICTURE_MAX_BYTES = 5 * 1024 * 1024
PICTURE_CONNECT_TIMEOUT_S = 5.0
PICTURE_TOTAL_TIMEOUT_S = 20.0  # the whole download, not only each read
PICTURE_CDN_DOMAIN = "whatsapp.net"  # profile pictures come from pps.whatsapp.net
JPEG_MAGIC = b"\xff\xd8\xff"


# --- Pure mapping: neonize's types → node_agent/contacts.py shapes ---


def error_text(exc: Exception) -> str:
    """Return the Go error text of a neonize exception (GetProfilePictureError carries its whole
    answer, client.py, whose `Error` is the text; the others carry the text)."""
    first = exc.args[0] if exc.args else ""
    return str(getattr(first, "Error", first))


def call_refused(text: str, rules: Rules = ()) -> CallRefused:
    """Return the CallRefused of a whatsmeow error text: not connected, then `rules` (the call's
    own); anything else is `whatsapp_error` with WhatsApp's words."""
    lowered = text.lower()
    if any(words in lowered for words in NOT_CONNECTED):
        return CallRefused("session_not_connected", text)
    for words, code in rules:
        if words in lowered:
            return CallRefused(code, text)
    return CallRefused("whatsapp_error", text)


def person_jid(value: str) -> str:
    """Return `user@server` of a person named by a phone JID, a `@lid` JID or phone digits (a
    device part dropped). Raises CallRefused `contact_not_found` for anything else (a group, a
    newsletter, no digits)."""
    jid = bare_jid(value)
    user, _, server = jid.partition("@")
    if server not in PERSON_SERVERS or not user.isdigit():
        raise CallRefused("contact_not_found", f"{value!r} does not name a person.")
    return jid


def contact_of(jid: str, info: Any, phone: str | None, lid: str | None) -> dict[str, Any]:
    """Return the Contact of a store entry (neonize ContactInfo): `name` is FullName (else
    FirstName), `pushName` PushName (else a business's BusinessName)."""
    name, push_name = info.FullName or info.FirstName, info.PushName or info.BusinessName
    return shapes.contact(jid, phone=phone, lid=lid, name=name, push_name=push_name)


def merged(known: dict[str, Any] | None, person: dict[str, Any]) -> dict[str, Any]:
    """Return one Contact of two store entries of one person (by phone JID and by LID): the
    phone JID's entry first, each field filled from the other when empty."""
    if known is None:
        return person
    first, second = known, person
    if shapes.phone_of(person["jid"]) and not shapes.phone_of(known["jid"]):
        first, second = person, known
    return {key: first[key] or second[key] for key in first}


def verified_name_of(info: Any) -> str | None:
    """Return the verified business name of a neonize UserInfo (None: none, or no UserInfo)."""
    if info is None or not info.VerifiedName.HasField("Details"):
        return None
    return info.VerifiedName.Details.verifiedName or None


def user_info_for(answers: Any, jid: str) -> Any | None:
    """Return the UserInfo whatsmeow's GetUserInfo answered for `jid` (a map keyed by the JIDs
    WhatsApp answered; neonize hands it over as a list), or None."""
    return next((a.UserInfo for a in answers if mapping.jid_str(a.JID) == jid), None)


def picture_download(url: str, *, proxy_url: str = "") -> bytes:
    """Download a profile picture from WhatsApp's CDN: https on *.whatsapp.net only, no
    redirects, through WHATSAPP_PROXY_URL if set (a socks5 one needs requests[socks]), at most
    PICTURE_MAX_BYTES within PICTURE_TOTAL_TIMEOUT_S; the answer must be a JPEG.

    Raises CallRefused `whatsapp_error` otherwise (naming no URL: WhatsApp's carry tokens).
    """
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not (
        host == PICTURE_CDN_DOMAIN or host.endswith("." + PICTURE_CDN_DOMAIN)
    ):
        raise CallRefused("whatsapp_error", "WhatsApp named a picture URL off its CDN.")
    deadline = time.monotonic() + PICTURE_TOTAL_TIMEOUT_S
    data = bytearray()
    try:
        with requests.get(
            url,
            timeout=(PICTURE_CONNECT_TIMEOUT_S, PICTURE_TOTAL_TIMEOUT_S),
            stream=True,
            allow_redirects=False,
            proxies={"https": proxy_url} if proxy_url else None,
        ) as answer:
            if answer.status_code != 200:
                text = f"WhatsApp's CDN answered HTTP {answer.status_code}."
                raise CallRefused("whatsapp_error", text)
            for chunk in answer.iter_content(64 * 1024):
                data += chunk
                if len(data) > PICTURE_MAX_BYTES or time.monotonic() > deadline:
                    raise CallRefused("whatsapp_error", "The picture is too large or too slow.")
    except requests.RequestException as exc:
        text = f"Picture download failed: {type(exc).__name__}."
        raise CallRefused("whatsapp_error", text) from exc
    if not data.startswith(JPEG_MAGIC):
        raise CallRefused("whatsapp_error", "WhatsApp's CDN answered something else than a JPEG.")
    return bytes(data)


# --- The calls ---


class ContactCalls:
    """The WhatsApp engine's contact and profile calls on the runs of `registry`, each FFI call
    under `gate` (shared). Every method raises CallRefused: `session_not_connected` before any
    call when the session is not connected (store reads also go on while it reconnects), else
    the code call_refused gives neonize's error text. `download` fetches a picture URL."""

    def __init__(
        self,
        config: NodeConfig,
        gate: FfiGate,
        registry: SessionRegistry,
        download: Callable[[str], bytes] | None = None,
    ) -> None:
        self._config = config
        self._gate = gate
        self._registry = registry
        self._download = download or partial(picture_download, proxy_url=config.whatsapp_proxy_url)

    def _neonize(self) -> Any:
        return load_neonize(self._config.neonize_log_level)

    def _call(
        self,
        session_id: str,
        method: str,
        *args: Any,
        rules: Rules = (),
        store_only: bool = False,
        absent: tuple[str, ...] = (),
    ) -> Any:
        """Call the neonize client's `method` (`contact.x`: its contact store's) of a connected
        session; map its NeonizeError, or answer None for a text of `absent`."""
        run: SessionRun | None = self._registry.get(session_id)
        states = STORE_STATES if store_only else ("connected",)
        if run is None or run.state not in states or not run.connect_running:
            raise CallRefused("session_not_connected", "Session is not connected.")
        neonize = self._neonize()
        target = run.client
        for name in method.split("."):
            target = getattr(target, name)
        try:
            with self._gate.shared():
                return target(*args)
        except neonize.NeonizeError as exc:
            text = error_text(exc)
            if any(words in text.lower() for words in absent):
                return None
            raise call_refused(text, rules) from exc

    def _jid(self, jid: str) -> Any:
        user, _, server = jid.partition("@")
        return self._neonize().build_jid(user, server)

    def _pair(self, session_id: str, jid: str) -> tuple[str | None, str | None]:
        """Return (phone digits, LID) of a person's bare JID, the other half from the store."""
        user, _, server = jid.partition("@")
        if server == shapes.PHONE_SERVER:
            lid = self._call(session_id, "get_lid_from_pn", self._jid(jid), store_only=True)
            return user, jid_or_none(lid)
        phone = self._call(session_id, "get_pn_from_lid", self._jid(jid), store_only=True)
        return phone.User or None, jid

    def _me(self, session_id: str) -> tuple[Any, str]:
        """Return the store's own device (get_me: JID, LID, PushName, BussinessName) and its
        bare phone JID."""
        me = self._call(session_id, "get_me")
        if not me.JID.User:
            raise CallRefused("session_not_connected", "The session has no device JID yet.")
        return me, f"{me.JID.User}@{me.JID.Server}"

    def _user_info(self, session_id: str, jid: str) -> Any | None:
        answers = self._call(session_id, "get_user_info", self._jid(jid), rules=PERSON_ERROR_TEXTS)
        return user_info_for(answers, jid)

    def contacts(self, session_id: str) -> list[dict[str, Any]]:
        """Return the store's contacts (neonize `contact.get_all_contacts`) as Contacts sorted by
        JID, phone and LID filled from the store's pairs; a person stored under a phone JID and
        a LID is one Contact (under the phone JID). Other JIDs (bots, broadcasts) are left out.
        No WhatsApp request."""
        listed = self._call(session_id, "contact.get_all_contacts", store_only=True)
        people: dict[str, dict[str, Any]] = {}
        for entry in listed:
            jid = mapping.jid_str(entry.JID)
            if jid.partition("@")[2] not in PERSON_SERVERS or not entry.JID.User:
                continue
            person = contact_of(jid, entry.Info, *self._pair(session_id, jid))
            key = person["phone"] or person["lid"]
            people[key] = merged(people.get(key), person)
        return sorted(people.values(), key=lambda person: person["jid"])

    def profile(self, session_id: str, jid: str) -> dict[str, Any]:
        """Return a person's Profile: neonize `get_user_info` (about, picture id, verified name),
        then the store (the pair; push name and business name stored under either JID).

        Raises CallRefused `contact_not_found` when WhatsApp answers no account for the JID (no
        answer, or no device: every account has its phone's).
        """
        target = person_jid(jid)
        info = self._user_info(session_id, target)
        if info is None or not info.Devices:
            raise CallRefused("contact_not_found", f"WhatsApp knows no account {target}.")
        phone, lid = self._pair(session_id, target)
        phone_jid = f"{phone}@{shapes.PHONE_SERVER}" if phone else None
        stored = [
            self._call(session_id, "contact.get_contact", self._jid(each), store_only=True)
            for each in dict.fromkeys(j for j in (target, phone_jid, lid) if j)
        ]
        verified = verified_name_of(info)
        business_name = next((s.BusinessName for s in stored if s.BusinessName), None)
        return shapes.profile(
            target,
            phone=phone,
            lid=lid,
            push_name=next((s.PushName for s in stored if s.PushName), None),
            about=info.Status or None,
            business=bool(verified or business_name),
            verified_name=verified or business_name,
            has_picture=bool(info.PictureID),
        )

    def picture(self, session_id: str, jid: str) -> bytes | None:
        """Return the JPEG of a person's profile picture, or of the account's own (`jid` "":
        get_me's JID), or None when there is none or it is hidden: neonize `get_profile_picture`
        (full size) for WhatsApp's CDN URL, then `download` (outside the FFI gate)."""
        target = self._me(session_id)[1] if not jid.strip() else person_jid(jid)
        picture = self._call(
            session_id,
            "get_profile_picture",
            self._jid(target),
            rules=PERSON_ERROR_TEXTS,
            absent=NO_PICTURE_TEXTS,
        )
        if picture is None or not picture.URL:  # whatsmeow answers nil for an unchanged picture
            return None
        return self._download(picture.URL)

    def block(self, session_id: str, jid: str, block: bool) -> None:
        """Block or unblock a person (neonize `update_blocklist`; whatsmeow blocks by LID, asking
        WhatsApp for it when the store has none). Safe to repeat."""
        target = self._jid(person_jid(jid))
        action = self._neonize().BlocklistAction
        change = action.BLOCK if block else action.UNBLOCK
        self._call(session_id, "update_blocklist", target, change, rules=PERSON_ERROR_TEXTS)

    def blocklist(self, session_id: str) -> list[str]:
        """Return the blocked JIDs as WhatsApp lists them (neonize `get_blocklist`; mostly LIDs,
        as whatsmeow blocks by LID), without devices or repeats, in its order."""
        blocked = self._call(session_id, "get_blocklist")
        return list(dict.fromkeys(mapping.jid_str(jid) for jid in blocked.JIDs if jid.User))

    def own_profile(self, session_id: str) -> dict[str, Any]:
        """Return the account's Profile: neonize `get_me` (JID, LID, push name, business name)
        and `get_user_info` of its own JID (about, picture id, verified name)."""
        me, jid = self._me(session_id)
        info = self._user_info(session_id, jid)
        verified = verified_name_of(info)
        return shapes.profile(
            jid,
            lid=jid_or_none(me.LID),
            push_name=me.PushName,
            about=info.Status or None if info is not None else None,
            business=bool(verified or me.BussinessName),
            verified_name=verified or me.BussinessName,
            has_picture=info is not None and bool(info.PictureID),
        )

    def own_profile_update(self, session_id: str, changes: dict[str, Any]) -> None:
        """Apply ProfileChanges in PROFILE_CHANGE_KEYS order, one neonize call each: pushName
        `set_profile_name` (an app state patch; the store's push name follows when whatsmeow
        resyncs it), about `set_status_message`, picture `set_profile_photo` (JPEG bytes). The
        first refusal raises; earlier changes stay. Other keys are ignored.

        Raises, before changing anything, CallRefused `contacts_unsupported` for a picture of None
        (removal: neonize 0.5.2 cannot) and ValueError for a picture that is not bytes (given a
        str, neonize would read a file or fetch a URL).
        """
        if "picture" in changes and changes["picture"] is None:
            text = "neonize 0.5.2 cannot remove the profile picture."
            raise CallRefused("contacts_unsupported", text)
        if "picture" in changes and not isinstance(changes["picture"], bytes | bytearray):
            raise ValueError("picture must be the bytes of a JPEG")
        for key in shapes.PROFILE_CHANGE_KEYS:
            if key in changes:
                method, kind = PROFILE_SETTERS[key]
                self._call(session_id, method, kind(changes[key]))

    def lid_lookup(self, session_id: str, jid: str) -> dict[str, Any]:
        """Return {phone (digits), lid} of a phone JID, phone digits or a `@lid` JID from the
        store (neonize `get_lid_from_pn` / `get_pn_from_lid`); the half it lacks is None. No
        WhatsApp request."""
        phone, lid = self._pair(session_id, person_jid(jid))
        return {"phone": phone, "lid": lid}
