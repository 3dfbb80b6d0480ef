"""Groups through the WhatsApp engine: neonize 0.5.2's group calls, answered in node_agent/groups.py
shapes, with whatsmeow's refusals turned into GroupError codes.

The mapping functions are pure and duck-typed over neonize's protobuf types (`Neonize.proto`:
GroupInfo, GroupParticipant, JID), so this module never imports neonize itself. What neonize
0.5.2 hands over, read in its Go encoder (goneonize/utils/encoder.go): every JID field is set
(an absent one is empty: no `User`), and Unix times (`GroupCreated`, an add request's
`Expiration`) are seconds in a protobuf *float* (float32): near today's times it steps by 128 s,
so they are right to within 64 s.

What neonize 0.5.2 cannot do, though whatsmeow can: set join approval (its library exports no
SetGroupJoinApprovalMode), remove a group picture (whatsmeow's SetGroupPhoto removes on nil
bytes; neonize always passes a non-nil slice) and tell join approval (its GroupInfo has no
GroupMembershipApprovalMode: it reads as False).
"""

from __future__ import annotations

from typing import Any

from node_agent import groups, protocol
from node_agent.config import NodeConfig
from node_agent.engines.base import GroupError
from node_agent.engines.whatsapp import mapping
from node_agent.engines.whatsapp.ffi import FfiGate, load_neonize
from node_agent.engines.whatsapp.registry import SessionRegistry
from node_agent.engines.whatsapp.run import SessionRun

Rules = tuple[tuple[str, str], ...]

# whatsmeow's texts (errors.go) saying the session is not connected: ErrClientIsNil,
# ErrNotConnected, ErrNotLoggedIn (the call never left), and DisconnectedError (the socket dropped
# while the query waited for its answer: WhatsApp may have applied it).
NOT_CONNECTED_TEXTS = (
    "client is nil",
    "websocket not connected",
    "the store doesn't contain a device jid",
    "websocket disconnected before",
)
# whatsmeow's error texts → GroupError code, first match wins. group.go wraps some IQ errors in
# errors.go's words (ErrGroupNotFound for 404, ErrNotInGroup for 403, ErrGroupInviteLinkUnauthorized
# for 401, ErrInviteLinkRevoked for 410 and ErrInviteLinkInvalid for 406 on invite links); the
# others arrive as IQError's "info query returned status <code>: <text>".
ERROR_TEXTS: Rules = (
    ("that group does not exist", "group_not_found"),
    ("you're not participating in that group", "not_participant"),
    ("you don't have the permission to get the group's invite link", "not_admin"),
    ("that group invite link is not valid", "invite_invalid"),
    ("that group invite link has been revoked", "invite_invalid"),
    ("info query returned status 401", "not_admin"),
    ("info query returned status 403", "not_participant"),
    ("info query returned status 404", "group_not_found"),
)
# Calls naming an invite code: a 404 means the code, not a group, is unknown.
INVITE_ERROR_TEXTS: Rules = (
    ("info query returned status 404", "invite_invalid"),
    ("info query returned status 406", "invite_invalid"),
    ("info query returned status 410", "invite_invalid"),
)
# Joining: 409 conflict is WhatsApp's "already a member" (elsewhere 409 means other conflicts,
# e.g. a stale description id).
JOIN_ERROR_TEXTS: Rules = (("info query returned status 409", "already_participant"),)

# Participant error codes of UpdateGroupParticipants (whatsmeow group.go parseParticipant keeps
# the `error` attribute of each answered participant and, with it, an `add_request`). whatsmeow
# names none of them; their meaning is WhatsApp's, as its own clients show it.
ALREADY_IN_GROUP = 409
PRIVACY_REFUSED = 403  # with an AddRequest: the member's privacy settings refuse adds
NOT_FOUND = 404  # add: not on WhatsApp; remove, promote, demote: not in the group
FAILURE_TEXTS = {
    400: "WhatsApp rejected this participant (bad request)",
    401: "they blocked this account",
    403: "WhatsApp does not allow adding them",
    408: "they left the group recently",
    419: "the group is full",
    500: "the group is full or WhatsApp failed",
}
SUCCESS = {"add": "added", "remove": "removed", "promote": "promoted", "demote": "demoted"}


# --- Pure mapping: neonize's types → node_agent/groups.py shapes ---


def jid_or_none(jid: Any) -> str | None:
    """Return `user@server` of a neonize JID, or None for an empty one."""
    return mapping.jid_str(jid) if jid.User else None


def iso_or_none(unix_s: float) -> str | None:
    """Return ISO 8601 UTC of Unix seconds, or None when unset (0, or Go's zero time < 0)."""
    return mapping.iso_from_unix(int(unix_s)) if unix_s > 0 else None


def participant_of(member: Any) -> dict[str, Any]:
    """Return the Participant of a neonize GroupParticipant (JID as WhatsApp names the member;
    its PhoneNumber and LID when WhatsApp told them)."""
    return groups.participant(
        mapping.jid_str(member.JID),
        phone=member.PhoneNumber.User or None,
        lid=jid_or_none(member.LID) if member.LID.Server == "lid" else None,
        admin=member.IsAdmin,
        super_admin=member.IsSuperAdmin,
    )


def join_approval_of(info: Any) -> bool:
    """Return whether joining by link needs an admin's approval; False when neonize does not
    tell (0.5.2's GroupInfo has no GroupMembershipApprovalMode)."""
    if "GroupMembershipApprovalMode" not in info.DESCRIPTOR.fields_by_name:
        return False
    return bool(info.GroupMembershipApprovalMode.IsJoinApprovalRequired)


def group_info_of(info: Any) -> dict[str, Any]:
    """Return the GroupInfo of a neonize GroupInfo.

    Members with an `Error` (a create that could not add them) are not in the group and left
    out. `owner` is OwnerJID (else OwnerPN); `createdAt` is GroupCreated (float32 seconds).
    """
    topic = info.GroupTopic
    return groups.group_info(
        jid=mapping.jid_str(info.JID),
        subject=info.GroupName.Name,
        participants=[participant_of(m) for m in info.Participants if not m.Error],
        description="" if topic.TopicDeleted else topic.Topic,
        owner=jid_or_none(info.OwnerJID) or jid_or_none(info.OwnerPN),
        created_at=iso_or_none(info.GroupCreated),
        announce=info.GroupAnnounce.IsAnnounce,
        locked=info.GroupLocked.isLocked,
        join_approval=join_approval_of(info),
    )


def bare_jid(value: str) -> str:
    """Return `user@server` of a JID string without its device (`62811:3@…` → `62811@…`);
    phone digits alone (`+62811…`) name a user on `s.whatsapp.net`."""
    user, at, server = value.strip().rpartition("@")
    if not at:
        return f"{protocol.digits(value)}@{protocol.USER_SERVER}"
    return f"{user.split(':', 1)[0]}@{server}"


def participant_outcome(action: str, jid: str, answer: Any | None) -> dict[str, Any]:
    """Return the ParticipantResult of one JID asked to `action`, from WhatsApp's answered
    GroupParticipant for it (None: WhatsApp did not answer for it). Codes: see FAILURE_TEXTS."""
    if answer is None:
        return groups.participant_result(jid, "failed", error="WhatsApp did not answer for it")
    code = int(answer.Error)
    if code == 0:
        return groups.participant_result(jid, SUCCESS[action])
    if action == "add":
        if code == ALREADY_IN_GROUP:
            return groups.participant_result(jid, "already_participant")
        if code == PRIVACY_REFUSED and answer.HasField("AddRequest") and answer.AddRequest.Code:
            invite = {
                "code": answer.AddRequest.Code,
                "expiresAt": iso_or_none(answer.AddRequest.Expiration),
            }
            return groups.participant_result(jid, "invite_required", invite=invite)
        if code == NOT_FOUND:
            return groups.participant_result(jid, "not_on_whatsapp")
    elif code == NOT_FOUND:
        return groups.participant_result(jid, "not_participant")
    text = FAILURE_TEXTS.get(code, "WhatsApp refused")
    return groups.participant_result(jid, "failed", error=f"{text} ({code})")


def participant_results(action: str, asked: list[str], answers: Any) -> list[dict[str, Any]]:
    """Return one ParticipantResult per JID of `asked`, in that order, from the GroupParticipants
    whatsmeow's UpdateGroupParticipants answered (any order; a member asked by phone number may be
    answered by LID, with its PhoneNumber, and the other way round)."""
    by_jid: dict[str, Any] = {}
    for answer in answers:
        for jid in (answer.JID, answer.PhoneNumber, answer.LID):
            if jid.User:
                by_jid.setdefault(mapping.jid_str(jid), answer)
    return [participant_outcome(action, jid, by_jid.get(bare_jid(jid))) for jid in asked]


def invite_link_of(link: str) -> str:
    """Return `https://chat.whatsapp.com/<code>` of the link whatsmeow's GetGroupInviteLink gave
    (it adds the prefix itself, group.go). Raises GroupError `whatsapp_error` on another shape."""
    code = groups.invite_code(link)
    if code is None:
        raise GroupError("whatsapp_error", f"WhatsApp answered an unexpected invite link {link!r}.")
    return groups.INVITE_LINK_PREFIX + code


def group_error(text: str, rules: Rules = ()) -> GroupError:
    """Return the GroupError of a whatsmeow error text: not connected, then `rules` (the call's
    own), then ERROR_TEXTS; anything else is `whatsapp_error` with WhatsApp's words."""
    lowered = text.lower()
    if any(words in lowered for words in NOT_CONNECTED_TEXTS):
        return GroupError("session_not_connected", text)
    for words, code in (*rules, *ERROR_TEXTS):
        if words in lowered:
            return GroupError(code, text)
    return GroupError("whatsapp_error", text)


# --- The calls ---


class GroupCalls:
    """The WhatsApp engine's group calls on the connected runs of `registry`, each FFI call under
    `gate` (shared). Each method raises GroupError: `session_not_connected` before any call when
    the session is not connected, else the code group_error gives neonize's error text."""

    def __init__(self, config: NodeConfig, gate: FfiGate, registry: SessionRegistry) -> None:
        self._config = config
        self._gate = gate
        self._registry = registry

    def _connected_run(self, session_id: str) -> SessionRun:
        run = self._registry.get(session_id)
        if run is None or run.state != "connected" or not run.connect_running:
            raise GroupError("session_not_connected", "Session is not connected.")
        return run

    def _neonize(self) -> Any:
        return load_neonize(self._config.neonize_log_level)

    def _call(self, session_id: str, method: str, *args: Any, rules: Rules = ()) -> Any:
        """Call the neonize client's `method` of a connected session; map its NeonizeError."""
        run = self._connected_run(session_id)
        neonize = self._neonize()
        try:
            with self._gate.shared():
                return getattr(run.client, method)(*args)
        except neonize.NeonizeError as exc:
            raise group_error(str(exc), rules) from exc

    def _group(self, value: str) -> Any:
        jid = groups.group_jid(value)
        if jid is None:
            raise GroupError("group_not_found", f"{value!r} is not a group JID.")
        return self._neonize().build_jid(jid.split("@", 1)[0], groups.GROUP_SERVER)

    def _member(self, value: str) -> Any:
        user, _, server = bare_jid(value).partition("@")
        return self._neonize().build_jid(user, server)

    @staticmethod
    def _code(value: str) -> str:
        code = groups.invite_code(value)
        if code is None:
            raise GroupError("invite_invalid", f"{value!r} is not an invite code or link.")
        return code

    def joined(self, session_id: str) -> list[dict[str, Any]]:
        """Return the GroupInfo of every group the account is in (neonize `get_joined_groups`)."""
        return [group_info_of(info) for info in self._call(session_id, "get_joined_groups")]

    def info(self, session_id: str, group_jid: str) -> dict[str, Any]:
        """Return one group's GroupInfo (neonize `get_group_info`)."""
        return group_info_of(self._call(session_id, "get_group_info", self._group(group_jid)))

    def create(self, session_id: str, subject: str, participants: list[str]) -> dict[str, Any]:
        """Create a group (neonize `create_group`); return its GroupInfo, without the members
        WhatsApp did not add. Not safe to repeat: each call creates a group."""
        members = [self._member(jid) for jid in participants]
        return group_info_of(self._call(session_id, "create_group", subject, members))

    def participants(
        self, session_id: str, group_jid: str, action: str, participants: list[str]
    ) -> list[dict[str, Any]]:
        """`action` (add | remove | promote | demote) each JID of `participants` in one neonize
        `update_group_participants`; return one ParticipantResult each, in that order.
        Raises ValueError for another action."""
        if action not in SUCCESS:
            raise ValueError(f"unknown participant action {action!r}")
        change = self._neonize().ParticipantChange(action)
        members = [self._member(jid) for jid in participants]
        group = self._group(group_jid)
        answers = self._call(session_id, "update_group_participants", group, members, change)
        return participant_results(action, participants, answers)

    def invite_link(self, session_id: str, group_jid: str, reset: bool) -> str:
        """Return the invite link (neonize `get_group_invite_link`, `revoke=reset`)."""
        group = self._group(group_jid)
        return invite_link_of(self._call(session_id, "get_group_invite_link", group, reset))

    def invite_info(self, session_id: str, code: str) -> dict[str, Any]:
        """Return the GroupInfo shown for an invite code or link before joining (neonize
        `get_group_info_from_link`, given the bare code)."""
        answer = self._call(
            session_id, "get_group_info_from_link", self._code(code), rules=INVITE_ERROR_TEXTS
        )
        return group_info_of(answer)

    def join(self, session_id: str, code: str) -> str:
        """Join by an invite code or link (neonize `join_group_with_link`); return the group JID.

        A group that needs approval answers its JID too (whatsmeow group.go: the membership
        request's), so the account may be waiting for an admin rather than in the group.
        """
        rules = (*JOIN_ERROR_TEXTS, *INVITE_ERROR_TEXTS)
        jid = self._call(session_id, "join_group_with_link", self._code(code), rules=rules)
        if not jid.User:
            raise GroupError("whatsapp_error", "WhatsApp named no group for this invite.")
        return mapping.jid_str(jid)

    def update(self, session_id: str, group_jid: str, changes: dict[str, Any]) -> None:
        """Apply GroupChanges in groups.CHANGE_KEYS order, one neonize call each: subject
        `set_group_name`, description `set_group_topic` (whatsmeow looks up the previous topic id;
        "" deletes it), announce `set_group_announce`, locked `set_group_locked`, picture
        `set_group_photo` (JPEG bytes). The first refusal raises; earlier changes stay.

        Raises GroupError `groups_unsupported`, before changing anything, for `joinApproval` or a
        picture of None (removal): neonize 0.5.2 cannot.
        """
        if "joinApproval" in changes:
            raise GroupError("groups_unsupported", "neonize 0.5.2 cannot set join approval.")
        if "picture" in changes and changes["picture"] is None:
            raise GroupError("groups_unsupported", "neonize 0.5.2 cannot remove a group picture.")
        group = self._group(group_jid)
        for key in groups.CHANGE_KEYS:
            if key not in changes:
                continue
            value = changes[key]
            if key == "subject":
                self._call(session_id, "set_group_name", group, str(value))
            elif key == "description":
                self._call(session_id, "set_group_topic", group, "", "", str(value))
            elif key == "announce":
                self._call(session_id, "set_group_announce", group, bool(value))
            elif key == "locked":
                self._call(session_id, "set_group_locked", group, bool(value))
            elif key == "picture":
                # bytes only: given a str, neonize would read a file or fetch a URL instead.
                self._call(session_id, "set_group_photo", group, bytes(value))

    def leave(self, session_id: str, group_jid: str) -> None:
        """Leave the group (neonize `leave_group`)."""
        self._call(session_id, "leave_group", self._group(group_jid))
