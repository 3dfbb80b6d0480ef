"""Groups on a node: the shapes every engine answers in, and the one RPC task's dispatch.

GroupInfo (a JSON-able dict, camelCase as on the wire):

    {"id": "120363041234567890@g.us", "subject": str, "description": str,
     "owner": JID | None, "createdAt": ISO 8601 UTC | None, "announce": bool (only admins
     send), "locked": bool (only admins edit the group's info), "joinApproval": bool (admins
     approve who joins by link), "size": int, "participants": [Participant, ...]}

Participant: {"jid": JID as WhatsApp names the member, "phone": E.164 digits | None, "lid":
"<n>@lid" | None, "admin": bool, "superAdmin": bool (the creator)}. `phone` and `lid` are
filled when the session knows them (WhatsApp tells a member's other form only in some answers).

ParticipantResult, one per JID asked: {"jid", "result": added | already_participant |
not_on_whatsapp | invite_required | removed | not_participant | promoted | demoted | failed,
"invite": {"code", "expiresAt"} (invite_required: the member's privacy settings refuse being
added, so WhatsApp offers an invite to send them instead), "error": str (failed)}.

GroupChanges: {"subject": str (1-100 chars), "description": str ("" clears it), "announce":
bool, "locked": bool, "joinApproval": bool, "picture": bytes of a JPEG | None (removes it)};
any subset, applied in that order.

Limits taken from WhatsApp's own clients (whatsmeow's group.go names none): a subject is at most
100 characters, a description at most 2048.
"""

from __future__ import annotations

import re
from typing import Any

GROUP_SERVER = "g.us"
SUBJECT_MAX = 100
LIST_LIMIT_MAX = 500  # groups in one page of a listing
DESCRIPTION_MAX = 2048
PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
PARTICIPANT_RESULTS = (
    "added",
    "already_participant",
    "not_on_whatsapp",
    "invite_required",
    "removed",
    "not_participant",
    "promoted",
    "demoted",
    "failed",
)
CHANGE_KEYS = ("subject", "description", "announce", "locked", "joinApproval", "picture")
INVITE_LINK_PREFIX = "https://chat.whatsapp.com/"
_GROUP_JID = re.compile(r"[0-9]{5,30}(-[0-9]{5,20})?@g\.us")


def group_jid(value: str) -> str | None:
    """Return the group JID `value` names (`120363…@g.us`, or its digits alone), else None."""
    value = value.strip()
    if "@" not in value:
        value = f"{value}@{GROUP_SERVER}"
    return value if _GROUP_JID.fullmatch(value) else None


# An invite as users paste it: a link (`https://chat.whatsapp.com/<code>`, the scheme optional)
# or the code alone.
INVITE_PATTERN = r"^(?:(?:https?://)?chat\.whatsapp\.com/)?([A-Za-z0-9]{10,40})/?$"


def invite_code(value: str) -> str | None:
    """Return the invite code of a link or a bare code (INVITE_PATTERN), else None."""
    found = re.fullmatch(INVITE_PATTERN[1:-1], value.strip())
    return found.group(1) if found else None


def participant(
    jid: str,
    *,
    phone: str | None = None,
    lid: str | None = None,
    admin: bool = False,
    super_admin: bool = False,
) -> dict[str, Any]:
    """Return a Participant (module docstring); a super admin is an admin too."""
    if phone is None and jid.endswith("@s.whatsapp.net"):
        phone = jid.split("@", 1)[0].split(":", 1)[0]
    if lid is None and jid.endswith("@lid"):
        lid = jid
    return {
        "jid": jid,
        "phone": phone,
        "lid": lid,
        "admin": bool(admin or super_admin),
        "superAdmin": bool(super_admin),
    }


def group_info(
    *,
    jid: str,
    subject: str,
    participants: list[dict[str, Any]],
    description: str = "",
    owner: str | None = None,
    created_at: str | None = None,
    announce: bool = False,
    locked: bool = False,
    join_approval: bool = False,
) -> dict[str, Any]:
    """Return a GroupInfo (module docstring)."""
    return {
        "id": jid,
        "subject": subject,
        "description": description,
        "owner": owner or None,
        "createdAt": created_at,
        "announce": bool(announce),
        "locked": bool(locked),
        "joinApproval": bool(join_approval),
        "size": len(participants),
        "participants": participants,
    }


def participant_result(
    jid: str, result: str, *, invite: dict[str, Any] | None = None, error: str = ""
) -> dict[str, Any]:
    """Return a ParticipantResult (module docstring). Raises ValueError for an unknown result."""
    if result not in PARTICIPANT_RESULTS:
        raise ValueError(f"unknown participant result {result!r}")
    answer: dict[str, Any] = {"jid": jid, "result": result}
    if invite is not None:
        answer["invite"] = invite
    if error:
        answer["error"] = error
    return answer
