"""Contacts and profiles on a node: the shapes every engine answers in (the backend imports them).

Contact: {"jid": the JID WhatsApp uses for the person (a phone JID `<digits>@s.whatsapp.net`
or a `<n>@lid`), "phone": E.164 digits | None, "lid": "<n>@lid" | None, "name": the name the
account's phone saved for them | None, "pushName": the name they gave themselves | None}.

Profile: {"jid", "phone", "lid", "pushName": str | None, "about": str | None (their "about"
text, when their privacy shows it), "business": bool, "verifiedName": str | None (a business's
verified name), "hasPicture": bool (a profile picture the account may see)}.

ProfileChanges (the account's own): {"pushName": str (1-25 chars), "about": str (at most 139),
"picture": bytes of a JPEG | None (removes it)}; any subset, applied in that order.

`phone` and `lid` of a person are filled when the session knows both: WhatsApp tells the pairing
of a phone number with its LID only in some answers (group participants, messages from a
contact who uses a LID, the LID migration of the account), and the session's store keeps it.

Limits taken from WhatsApp's own clients: a push name is at most 25 characters, an "about" text
at most 139.
"""

from __future__ import annotations

from typing import Any

PUSH_NAME_MAX = 25
ABOUT_MAX = 139
LIST_LIMIT_MAX = 500
PROFILE_CHANGE_KEYS = ("pushName", "about", "picture")
LID_SERVER = "lid"
PHONE_SERVER = "s.whatsapp.net"


def phone_of(jid: str) -> str | None:
    """Return the E.164 digits of a phone JID (device part dropped), else None."""
    user, _, server = jid.partition("@")
    return user.split(":", 1)[0] if server == PHONE_SERVER else None


def contact(
    jid: str,
    *,
    phone: str | None = None,
    lid: str | None = None,
    name: str | None = None,
    push_name: str | None = None,
) -> dict[str, Any]:
    """Return a Contact (module docstring); `phone` and `lid` default to what `jid` says."""
    return {
        "jid": jid,
        "phone": phone or phone_of(jid),
        "lid": lid or (jid if jid.endswith(f"@{LID_SERVER}") else None),
        "name": name or None,
        "pushName": push_name or None,
    }


def profile(
    jid: str,
    *,
    phone: str | None = None,
    lid: str | None = None,
    push_name: str | None = None,
    about: str | None = None,
    business: bool = False,
    verified_name: str | None = None,
    has_picture: bool = False,
) -> dict[str, Any]:
    """Return a Profile (module docstring)."""
    person = contact(jid, phone=phone, lid=lid)
    return {
        "jid": jid,
        "phone": person["phone"],
        "lid": person["lid"],
        "pushName": push_name or None,
        "about": about if about is not None else None,
        "business": bool(business),
        "verifiedName": verified_name or None,
        "hasPicture": bool(has_picture),
    }
