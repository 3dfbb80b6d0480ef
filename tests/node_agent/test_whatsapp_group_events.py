"""Group changes as neonize 0.5.2 hands them over (its real GroupInfoEv, JoinedGroupEv and
PictureEv protobufs), turned into the engine's `group` events: the pure mapping, then fed through
a client's own event entry point and asserted at the fake backend."""

import re
from types import SimpleNamespace

import pytest
from neonize.events import GroupInfoEv, JoinedGroupEv, MessageEv, PictureEv
from neonize.proto.Neonize_pb2 import (
    Device,
    GroupAnnounce,
    GroupDelete,
    GroupEphemeral,
    GroupLocked,
    GroupName,
    GroupTopic,
)

from node_agent.engines.whatsapp import client as wa_client
from node_agent.engines.whatsapp import group_events
from node_agent.engines.whatsapp.group_events import changes_of, event_id, own_jids
from node_agent.protocol import GROUP_EVENT_PATH
from tests.node_agent.node_helpers import outbox_drained, wait_until
from tests.node_agent.whatsapp_group_helpers import GROUP, GROUP_USER, THIRD, group_proto
from tests.node_agent.whatsapp_helpers import PEER, PHONE, connect_session, feed, jid, settle

TS = 1_700_000_000  # whatsmeow's `t`: Unix seconds (encoder: Timestamp.Unix())
ME = f"{PHONE}@s.whatsapp.net"
MY_LID = "99887766@lid"  # connect_session's LID
OWN = frozenset({ME, MY_LID})
ADMIN = f"{PEER}@s.whatsapp.net"
FOURTH = "6281200000400"


def change(**fields):
    """A GroupInfoEv with every required field the encoder sets; `fields` name the changes."""
    values = {
        "JID": jid(GROUP_USER, "g.us"),
        "Notify": "",
        "Sender": jid(PEER),
        "Timestamp": TS,
        "PrevParticipantsVersionID": "",
        "ParticipantVersionID": "",
        "JoinReason": "",
    }
    event = GroupInfoEv(**{**values, **fields})
    return GroupInfoEv.FromString(event.SerializeToString())  # as the wire carries it


def joined_group(**fields):
    values = {"Reason": "", "Type": "", "CreateKey": "", "GroupInfo": group_proto()}
    event = JoinedGroupEv(**{**values, **fields})
    return JoinedGroupEv.FromString(event.SerializeToString())


def picture(server="g.us", remove=False, user=GROUP_USER):
    return PictureEv(JID=jid(user, server), Author=jid(PEER), Timestamp=TS, Remove=remove)


def shown(events):
    """The events without their ids (checked on their own)."""
    return [(e["event"], e["group"], e["by"], e["data"]) for e in events]


def ids(events):
    return [e["event_id"] for e in events]


def participants(action, *users):
    return ("participants", GROUP, ADMIN, {"action": action, "participants": list(users)})


def updated(**changes):
    return ("updated", GROUP, ADMIN, {"changes": changes})


def test_others_joining_are_a_participants_add():
    event = change(Join=[jid(THIRD), jid("55443322", "lid")], ParticipantVersionID="v2")
    assert shown(changes_of(event, OWN)) == [
        participants("add", f"{THIRD}@s.whatsapp.net", "55443322@lid")
    ]


@pytest.mark.parametrize("me", [jid(PHONE), jid("99887766", "lid")])
def test_being_removed_is_left_and_nothing_else(me):
    assert shown(changes_of(change(Leave=[me]), OWN)) == [("left", GROUP, ADMIN, {})]


def test_leaving_oneself_is_left_by_the_account():
    event = change(Leave=[jid(PHONE)], Sender=jid(PHONE))
    assert shown(changes_of(event, OWN)) == [("left", GROUP, ME, {})]


def test_removed_with_others_reports_their_removal_then_left_without_our_jid():
    event = change(Leave=[jid(THIRD), jid(PHONE), jid(FOURTH)])
    assert shown(changes_of(event, OWN)) == [
        participants("remove", f"{THIRD}@s.whatsapp.net", f"{FOURTH}@s.whatsapp.net"),
        ("left", GROUP, ADMIN, {}),
    ]


def test_someone_else_leaving_is_a_participants_remove():
    event = change(Leave=[jid(THIRD)], Sender=jid(THIRD))
    assert shown(changes_of(event, OWN)) == [
        (
            "participants",
            GROUP,
            f"{THIRD}@s.whatsapp.net",
            {"action": "remove", "participants": [f"{THIRD}@s.whatsapp.net"]},
        )
    ]


def test_promote_and_demote_name_everyone_the_account_too():
    assert shown(changes_of(change(Promote=[jid(THIRD), jid(PHONE)]), OWN)) == [
        participants("promote", f"{THIRD}@s.whatsapp.net", ME)
    ]
    assert shown(changes_of(change(Demote=[jid(THIRD)]), OWN)) == [
        participants("demote", f"{THIRD}@s.whatsapp.net")
    ]


def test_name_change_is_updated_subject():
    name = GroupName(Name="Shop crew 2", NameSetAt=TS, NameSetBy=jid(PEER))
    assert shown(changes_of(change(Name=name), OWN)) == [updated(subject="Shop crew 2")]


def topic(text, deleted=False):
    return GroupTopic(
        Topic=text, TopicID="3EB0T2", TopicSetAt=TS, TopicSetBy=jid(PEER), TopicDeleted=deleted
    )


def test_topic_change_is_updated_description_and_a_deleted_one_is_empty():
    assert shown(changes_of(change(Topic=topic("Open 9-5")), OWN)) == [
        updated(description="Open 9-5")
    ]
    # whatsmeow: a <delete/> description has TopicDeleted and no body
    assert shown(changes_of(change(Topic=topic("", deleted=True)), OWN)) == [
        updated(description="")
    ]


@pytest.mark.parametrize("value", [True, False])
def test_announce_and_locked_are_updated_with_their_new_value(value):
    announce = GroupAnnounce(IsAnnounce=value, AnnounceVersionID="a2")
    assert shown(changes_of(change(Announce=announce), OWN)) == [updated(announce=value)]
    locked = GroupLocked(isLocked=value)
    assert shown(changes_of(change(Locked=locked), OWN)) == [updated(locked=value)]


def test_a_combined_notification_is_one_event_per_kind_of_change_each_with_its_own_id():
    event = change(
        Name=GroupName(Name="New name", NameSetAt=TS, NameSetBy=jid(PEER)),
        Topic=topic("New topic"),
        Announce=GroupAnnounce(IsAnnounce=True, AnnounceVersionID="a3"),
        Locked=GroupLocked(isLocked=True),
        Join=[jid(FOURTH)],
        Leave=[jid(THIRD)],
        Promote=[jid(FOURTH)],
        Demote=[jid(PHONE)],
        ParticipantVersionID="v9",
    )
    events = changes_of(event, OWN)
    assert shown(events) == [
        participants("add", f"{FOURTH}@s.whatsapp.net"),
        participants("remove", f"{THIRD}@s.whatsapp.net"),
        participants("promote", f"{FOURTH}@s.whatsapp.net"),
        participants("demote", ME),
        updated(subject="New name"),
        updated(description="New topic"),
        updated(announce=True),
        updated(locked=True),
    ]
    assert len(set(ids(events))) == 8
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids(events))


def test_ids_are_stable_when_whatsapp_repeats_a_notification_and_differ_per_change():
    def once(**fields):
        values = {"Join": [jid(THIRD)], "ParticipantVersionID": "v2", **fields}
        return ids(changes_of(change(**values), OWN))

    assert once() == once()  # a repeat (e.g. offline replay after a reconnect)
    assert once() != once(Timestamp=TS + 1)
    assert once() != once(Sender=jid(FOURTH))
    assert once() != once(Join=[jid(FOURTH)])
    assert once() != once(ParticipantVersionID="v3")
    renamed = [
        ids(changes_of(change(Name=GroupName(Name=n, NameSetAt=TS, NameSetBy=jid(PEER))), OWN))
        for n in ("A", "B", "A")
    ]
    assert renamed[0] == renamed[2] != renamed[1]


def test_ids_do_not_change_between_releases():
    # A repeated notification after an upgrade must still be recognised by the backend.
    assert event_id("left", GROUP, TS, ADMIN, "") == "c613d29f93b8eacd7150d65470ef70ac"
    [left] = changes_of(change(Leave=[jid(PHONE)]), OWN)
    assert left["event_id"] == event_id("left", GROUP, TS, ADMIN, "")


def test_joined_group_reports_the_group_info_and_who_added_us():
    event = joined_group(Reason="", Type="new", Sender=jid(PEER), SenderPN=jid(PEER))
    [joined] = changes_of(event, OWN)
    assert (joined["event"], joined["group"], joined["by"]) == ("joined", GROUP, ADMIN)
    info = joined["data"]["info"]
    assert (info["id"], info["subject"], info["announce"]) == (GROUP, "Shop crew", True)
    assert [p["jid"] for p in info["participants"]] == [
        ME,
        "55443322@lid",
        f"{THIRD}@s.whatsapp.net",
    ]
    assert info["createdAt"] == "2023-11-14T22:13:20.000000Z"


def test_joined_group_by_is_the_phone_number_only_without_a_sender():
    [by_pn] = changes_of(joined_group(SenderPN=jid(PEER)), OWN)
    [by_lid] = changes_of(joined_group(Sender=jid("55443322", "lid"), SenderPN=jid(PEER)), OWN)
    [by_nobody] = changes_of(joined_group(Reason="invite"), OWN)
    assert (by_pn["by"], by_lid["by"], by_nobody["by"]) == (ADMIN, "55443322@lid", None)


def test_joined_group_ids_follow_the_participant_version_or_the_notification():
    with_version = group_proto(ParticipantVersionID="v7")
    [a] = changes_of(joined_group(GroupInfo=with_version), OWN)
    [b] = changes_of(joined_group(GroupInfo=with_version), OWN)
    [c] = changes_of(joined_group(GroupInfo=group_proto(ParticipantVersionID="v8")), OWN)
    [d] = changes_of(joined_group(GroupInfo=group_proto(ParticipantVersionID="")), OWN)
    [e] = changes_of(
        joined_group(GroupInfo=group_proto(ParticipantVersionID=""), Reason="invite"), OWN
    )
    assert a["event_id"] == b["event_id"]
    assert len({a["event_id"], c["event_id"], d["event_id"], e["event_id"]}) == 4


def test_our_own_jid_in_a_join_list_is_joined_without_info_and_the_same_change_as_joined_group():
    event = change(Join=[jid("99887766", "lid"), jid(FOURTH)], ParticipantVersionID="v7")
    events = changes_of(event, OWN)
    assert shown(events) == [
        ("joined", GROUP, ADMIN, {"info": None}),
        participants("add", f"{FOURTH}@s.whatsapp.net"),
    ]
    [from_create] = changes_of(joined_group(GroupInfo=group_proto(ParticipantVersionID="v7")), OWN)
    assert events[0]["event_id"] == from_create["event_id"]


@pytest.mark.parametrize(("remove", "value"), [(False, True), (True, False)])
def test_a_group_picture_set_or_removed_is_updated_picture(remove, value):
    assert shown(changes_of(picture(remove=remove), OWN)) == [updated(picture=value)]


def test_what_is_not_reported():
    assert changes_of(picture(server="s.whatsapp.net", user=PEER), OWN) == []  # a contact's
    quiet = change(
        Delete=GroupDelete(Deleted=True, DeletedReason="admin"),
        Ephemeral=GroupEphemeral(IsEphemeral=True, DisappearingTimer=86400),
        NewInviteLink="https://chat.whatsapp.com/AbCdEfGhIjKlMnOp",
    )
    assert changes_of(quiet, OWN) == []
    assert changes_of(MessageEv(), OWN) == []


def test_own_jids_come_from_the_credentials_and_neonize_me():
    run = SimpleNamespace(
        credentials={"jid": f"{PHONE}:7@s.whatsapp.net", "lid": None}, client=None
    )
    assert own_jids(run) == {ME}
    run.client = SimpleNamespace(me=Device(JID=jid(PHONE, device=7), LID=jid("99887766", "lid")))
    run.credentials = None
    assert own_jids(run) == OWN


def test_every_group_class_is_registered_before_connect():
    kinds = {wa_client.EVENTS[name] for name in group_events.EVENT_CLASSES}
    assert kinds == {"group", "picture"}  # a picture is a group's or a person's


def reported(runtime, backend, count):
    """Every group-event report, once `count` arrived and all fed events were handled."""
    wait_until(
        lambda: len(backend.bodies(GROUP_EVENT_PATH, sessionId="w1")) >= count,
        message=f"{count} group events",
    )
    settle(runtime)
    outbox_drained(runtime)
    return backend.bodies(GROUP_EVENT_PATH, sessionId="w1")


def test_group_changes_fed_to_the_client_reach_the_backend(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, joined_group(Type="new", Sender=jid(PEER)))
    feed(client, change(Join=[jid(THIRD)], ParticipantVersionID="v2"))
    feed(client, change(Name=GroupName(Name="Renamed", NameSetAt=TS, NameSetBy=jid(PEER))))
    feed(client, picture(server="s.whatsapp.net", user=PEER))  # a contact's: contact.updated
    feed(client, picture(remove=True))
    feed(client, change(Leave=[jid("99887766", "lid")]))  # removed, named by our LID

    bodies = reported(runtime, backend, 5)
    got = [(b["event"], b["group"], b.get("by"), b["data"]) for b in bodies]
    assert got[0][:3] == ("joined", GROUP, ADMIN)
    assert got[0][3]["info"]["subject"] == "Shop crew"
    assert got[1:] == [
        participants("add", f"{THIRD}@s.whatsapp.net"),
        updated(subject="Renamed"),
        updated(picture=False),
        ("left", GROUP, ADMIN, {}),
    ]
    assert len({b["eventId"] for b in bodies}) == 5


def test_a_repeated_notification_is_reported_with_the_same_event_id(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, change(Promote=[jid(THIRD)], ParticipantVersionID="v5"))
    feed(client, change(Promote=[jid(THIRD)], ParticipantVersionID="v5"))

    first, again = reported(runtime, backend, 2)
    assert first["eventId"] == again["eventId"]
    assert first["data"] == {"action": "promote", "participants": [f"{THIRD}@s.whatsapp.net"]}
