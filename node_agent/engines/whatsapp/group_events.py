"""Group changes WhatsApp reports, turned into the engine's `group` events (engines/base.py).

Pure functions, duck-typed over neonize's protobuf types (this module never imports neonize).
Sources: whatsmeow's types/events/events.go (GroupInfo, JoinedGroup, Picture), filled by
group.go (parseGroupChange: one `w:gp2` notification → one GroupInfo with every change it
carries; parseGroupCreate: a lone `create` child → JoinedGroup, which WhatsApp sends when the
account creates, is added to or joins a group) and notification.go (handlePictureNotification).
neonize 0.5.2 hands them over as GroupInfoEv (Neonize.proto GroupInfoEvent, code 22),
JoinedGroupEv (JoinedGroup, 21) and PictureEv (Picture, 23), encoded in
goneonize/utils/encoder.go: an absent change is an unset field (check `HasField`), every JID
of a list is a user JID, `Timestamp` is Unix seconds.

Mapping, one event per kind of change (a notification may carry several), in this order:

    JoinedGroup                      → joined {info: GroupInfo}, by Sender (else SenderPN)
    GroupInfo.Join with our own JID  → joined {info: None}
    GroupInfo.Join / Leave / Promote / Demote (other JIDs; our own JID also for promote and
        demote)                      → participants {action: add | remove | promote | demote}
    GroupInfo.Name                   → updated {changes: {subject}}
    GroupInfo.Topic                  → updated {changes: {description}} ("" once deleted:
                                       whatsmeow leaves Topic empty with TopicDeleted)
    GroupInfo.Announce / Locked      → updated {changes: {announce}} / {changes: {locked}}
    Picture of a group JID           → updated {changes: {picture: True set, False removed}},
                                       by Author
    GroupInfo.Leave with our own JID → left {} (last; our JID is in no other event)

`by` of a GroupInfo is its Sender (None when absent: e.g. notify=invite). Not reported: Delete,
Ephemeral, Link/Unlink, NewInviteLink, UnknownChanges (nothing to say in our shapes); a person's
picture is a contact change (contact_events.py). neonize 0.5.2's GroupInfoEvent has no
MembershipApprovalMode (whatsmeow parses it; the encoder drops it), so `joinApproval` changes
are never reported; nor SenderPN or Suspended.

event_id (event_id()): whatsmeow keeps no notification id, so it hashes what the change
carries: the group, `Timestamp`, Sender and Notify, the kind and what changed (the sorted JIDs
and the participant version id; the changed key and value). A repeated notification gets the
same ids. A `joined` hashes only the group and WhatsApp's participant version id when it gave
one (a JoinedGroup's GroupInfo.ParticipantVersionID, a GroupInfo's ParticipantVersionID), so
both forms of one join share an id if WhatsApp ever sends both with one version (not seen on a
live account yet); without it, what the JoinedGroup carries.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from node_agent.engines.whatsapp import mapping
from node_agent.engines.whatsapp.groups import bare_jid, group_info_of, jid_or_none
from node_agent.groups import GROUP_SERVER

# The neonize event classes (neonize/events.py names) whose events changes_of() maps; client.py's
# EVENTS sends them to the dispatcher as kind `group` (PictureEv as `picture`, for both kinds).
EVENT_CLASSES = ("JoinedGroupEv", "GroupInfoEv", "PictureEv")
ACTIONS = (("add", "Join"), ("remove", "Leave"), ("promote", "Promote"), ("demote", "Demote"))

Event = dict[str, Any]


def event_id(*parts: Any) -> str:
    """Return a change's id: 32 hex digits of the SHA-256 of `parts` (JSON-able) as JSON."""
    text = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def own_jids(run: Any) -> frozenset[str]:
    """Return the session's own user JIDs (`<phone>@s.whatsapp.net`, `<n>@lid`; no device) from
    the run's credentials and neonize's `client.me` (set once connected)."""
    known = run.credentials or {}
    found = {bare_jid(value) for value in (known.get("jid"), known.get("lid")) if value}
    me = getattr(run.client, "me", None)
    if me is not None:
        found.update(mapping.jid_str(jid) for jid in (me.JID, me.LID) if jid.User)
    return frozenset(found)


def changes_of(event: Any, own: frozenset[str]) -> list[Event]:
    """Return the `group` events (emit()'s keyword dicts: event, event_id, group, by, data) of a
    neonize JoinedGroup, GroupInfoEvent or Picture event, in the module docstring's order.

    `own` is the session's own JIDs (own_jids()); [] for another event or a contact's picture.
    """
    kind = event.DESCRIPTOR.name
    if kind == "JoinedGroup":
        return [_joined(event)]
    if kind == "GroupInfoEvent":
        return _group_info(event, own)
    if kind == "Picture":
        return _picture(event)
    return []


def _sender(event: Any, field: str) -> str | None:
    return jid_or_none(getattr(event, field)) if event.HasField(field) else None


def _event(event: str, group: str, by: str | None, data: dict[str, Any], key: Any) -> Event:
    ident = event_id(event, group, *key)
    return {"event": event, "event_id": ident, "group": group, "by": by, "data": data}


def _joined(event: Any) -> Event:
    info = event.GroupInfo
    by = _sender(event, "Sender") or _sender(event, "SenderPN")
    group = mapping.jid_str(info.JID)
    if info.ParticipantVersionID:
        key: tuple[Any, ...] = (info.ParticipantVersionID,)
    else:  # what this join's notification carries, the same when WhatsApp repeats it
        members = sorted(mapping.jid_str(m.JID) for m in info.Participants)
        key = ("", event.Reason, event.Type, event.CreateKey, by, info.GroupCreated, members)
    return _event("joined", group, by, {"info": group_info_of(info)}, key)


def _group_info(event: Any, own: frozenset[str]) -> list[Event]:
    group = mapping.jid_str(event.JID)
    by = _sender(event, "Sender")
    base = (event.Timestamp, by, event.Notify)
    joined: list[Event] = []
    left: list[Event] = []
    out: list[Event] = []
    for action, field in ACTIONS:
        jids = [mapping.jid_str(jid) for jid in getattr(event, field)]
        if action in ("add", "remove") and own.intersection(jids):
            jids = [jid for jid in jids if jid not in own]
            if action == "add":
                key = (event.ParticipantVersionID,) if event.ParticipantVersionID else base
                joined.append(_event("joined", group, by, {"info": None}, key))
            else:
                left.append(_event("left", group, by, {}, base))
        if jids:
            data = {"action": action, "participants": jids}
            key = (*base, action, event.ParticipantVersionID, sorted(jids))
            out.append(_event("participants", group, by, data, key))
    changes: list[tuple[str, Any]] = []
    if event.HasField("Name"):
        changes.append(("subject", event.Name.Name))
    if event.HasField("Topic"):
        changes.append(("description", event.Topic.Topic))  # whatsmeow: "" once deleted
    if event.HasField("Announce"):
        changes.append(("announce", event.Announce.IsAnnounce))
    if event.HasField("Locked"):
        changes.append(("locked", event.Locked.isLocked))
    for name, value in changes:
        data = {"changes": {name: value}}
        out.append(_event("updated", group, by, data, (*base, name, value)))
    return [*joined, *out, *left]


def _picture(event: Any) -> list[Event]:
    if event.JID.Server != GROUP_SERVER:
        return []  # a contact's profile picture
    group = mapping.jid_str(event.JID)
    by = jid_or_none(event.Author)
    picture = not event.Remove
    data = {"changes": {"picture": picture}}
    return [_event("updated", group, by, data, (event.Timestamp, by, "picture", picture))]
