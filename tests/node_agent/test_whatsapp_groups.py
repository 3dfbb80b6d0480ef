"""The WhatsApp engine's group calls through neonize 0.5.2's own client methods, offline: what
each call sends and how its answer maps to node_agent/groups.py's shapes (helpers:
whatsapp_group_helpers.py)."""

from __future__ import annotations

import pytest
from neonize.proto import Neonize_pb2 as pb

from node_agent.engines.whatsapp import groups as wa_groups
from tests.node_agent.whatsapp_group_helpers import (
    CODE,
    CREATED_AT,
    CREATED_S,
    GROUP,
    GROUP_USER,
    PN,
    THIRD,
    empty,
    group_calls,
    group_proto,
    member,
    people,
    sent_jid,
    sent_jids,
    triples,
)
from tests.node_agent.whatsapp_helpers import PEER, PHONE


@pytest.fixture
def wa(make_config, tmp_path):
    return group_calls(make_config, tmp_path)


def test_group_info_maps_every_field_of_neonizes_group_info(wa):
    calls, go, _ = wa
    go.answers["GetGroupInfo"] = pb.GetGroupInfoReturnFunction(GroupInfo=group_proto())

    info = calls.info("w1", GROUP)

    assert {k: v for k, v in info.items() if k != "participants"} == {
        "id": GROUP,
        "subject": "Shop crew",
        "description": "Orders and stock",
        "owner": f"{PHONE}@{PN}",
        "createdAt": CREATED_AT,
        "announce": True,
        "locked": False,
        "joinApproval": False,
        "size": 3,
    }
    assert people(info) == [
        (f"{PHONE}@{PN}", PHONE, "99887766@lid", True, True),
        ("55443322@lid", PEER, "55443322@lid", True, False),
        (f"{THIRD}@{PN}", THIRD, None, False, False),
    ]
    assert sent_jid(go.args("GetGroupInfo")) == (GROUP_USER, "g.us", 0)


def test_absent_fields_float32_times_and_unknown_join_approval():
    deleted = dict(Topic="old", TopicID="x", TopicSetAt=0, TopicSetBy=empty(), TopicDeleted=True)
    absent = group_proto(
        OwnerJID=empty(),
        OwnerPN=empty(),
        GroupCreated=float(-62135596800),  # Go's zero time.Time, as the encoder sends it
        GroupTopic=pb.GroupTopic(**deleted),
        GroupLocked=pb.GroupLocked(isLocked=True),
        GroupAnnounce=pb.GroupAnnounce(IsAnnounce=False, AnnounceVersionID=""),
    )
    info = wa_groups.group_info_of(pb.GroupInfo.FromString(absent.SerializeToString()))
    assert (info["owner"], info["createdAt"], info["description"]) == (None, None, "")
    assert (info["announce"], info["locked"]) == (False, True)

    pn_only = group_proto(OwnerJID=empty(), GroupCreated=float(CREATED_S + 1))
    info = wa_groups.group_info_of(pb.GroupInfo.FromString(pn_only.SerializeToString()))
    assert info["owner"] == f"{PHONE}@{PN}"  # OwnerPN when OwnerJID is absent
    assert info["createdAt"] == CREATED_AT  # float32 keeps 1 700 000 001 s as 1 700 000 000 s

    assert "GroupMembershipApprovalMode" not in pb.GroupInfo.DESCRIPTOR.fields_by_name
    assert wa_groups.join_approval_of(absent) is False


def test_bare_jids_drop_the_device_and_read_phone_digits():
    assert wa_groups.bare_jid(f"{PEER}:12@{PN}") == f"{PEER}@{PN}"
    assert wa_groups.bare_jid("+62 812-0000-0200") == f"{PEER}@{PN}"
    assert wa_groups.bare_jid("99887766@lid") == "99887766@lid"


def test_joined_groups_keep_whatsapps_order(wa):
    calls, go, _ = wa
    answer = [group_proto("120363000000000002", "Zeta"), group_proto("120363000000000001", "A")]
    go.answers["GetJoinedGroups"] = pb.GetJoinedGroupsReturnFunction(Group=answer)

    joined = calls.joined("w1")

    assert [(g["id"], g["subject"], g["size"]) for g in joined] == [
        ("120363000000000002@g.us", "Zeta", 3),
        ("120363000000000001@g.us", "A", 3),
    ]
    assert go.names() == ["GetJoinedGroups"]


def test_create_sends_subject_and_members_and_leaves_out_those_not_added(wa):
    calls, go, _ = wa
    created = group_proto(
        participants=[member(PHONE, sup=True), member(PEER), member(THIRD, error=403)]
    )
    go.answers["CreateGroup"] = pb.GetGroupInfoReturnFunction(GroupInfo=created)

    info = calls.create("w1", "Shop crew", [f"{PEER}@{PN}", f"{THIRD}:2@{PN}"])

    assert [p["jid"] for p in info["participants"]] == [f"{PHONE}@{PN}", f"{PEER}@{PN}"]
    assert info["size"] == 2
    request = pb.ReqCreateGroup.FromString(go.args("CreateGroup")[1])
    assert request.name == "Shop crew"
    assert triples(request.Participants) == [(PEER, PN, 0), (THIRD, PN, 0)]
    assert request.CreateKey == "3EB0CREATEKEY"  # neonize's generate_message_id


def test_add_answers_each_participant_in_the_order_asked(wa):
    calls, go, _ = wa
    offer = pb.GroupParticipantAddRequest(Code=CODE, Expiration=CREATED_S + 3 * 86400)
    go.answers["UpdateGroupParticipants"] = pb.UpdateGroupParticipantsReturnFunction(
        participants=[  # in another order than asked
            member("6281200000005", error=408),
            member("11223344", "lid", lid="11223344", phone="6281200000001"),  # answered by LID
            member("6281200000002", error=409),
            member("6281200000003", phone="6281200000003", error=403, add=offer),
            member("6281200000004", error=404),
            member("77665544", "lid", lid="77665544"),
            member("6281200000007", error=403),  # refused, and no invite offered
        ]
    )
    asked = [f"628120000000{n}@{PN}" for n in range(1, 7)] + ["77665544@lid", f"6281200000007@{PN}"]

    results = calls.participants("w1", GROUP, "add", asked)

    assert results == [
        {"jid": asked[0], "result": "added"},
        {"jid": asked[1], "result": "already_participant"},
        {
            "jid": asked[2],
            "result": "invite_required",
            "invite": {"code": CODE, "expiresAt": "2023-11-17T22:13:20.000000Z"},
        },
        {"jid": asked[3], "result": "not_on_whatsapp"},
        {"jid": asked[4], "result": "failed", "error": "they left the group recently (408)"},
        {"jid": asked[5], "result": "failed", "error": "WhatsApp did not answer for it"},
        {"jid": "77665544@lid", "result": "added"},
        {"jid": asked[7], "result": "failed", "error": "WhatsApp does not allow adding them (403)"},
    ]
    args = go.args("UpdateGroupParticipants")
    assert sent_jid(args) == (GROUP_USER, "g.us", 0)
    assert [f"{user}@{server}" for user, server, _ in sent_jids(args)] == asked
    assert args[5] == b"add"


@pytest.mark.parametrize(
    ("action", "done"), [("remove", "removed"), ("promote", "promoted"), ("demote", "demoted")]
)
def test_remove_promote_demote_answers(wa, action, done):
    calls, go, _ = wa
    go.answers["UpdateGroupParticipants"] = pb.UpdateGroupParticipantsReturnFunction(
        participants=[member(PEER), member(THIRD, error=404), member("6281200000009", error=406)]
    )
    asked = [f"{PEER}:4@{PN}", f"{THIRD}@{PN}", "+62 812-0000-0009"]

    results = calls.participants("w1", GROUP, action, asked)

    assert results == [
        {"jid": asked[0], "result": done},
        {"jid": asked[1], "result": "not_participant"},
        {"jid": asked[2], "result": "failed", "error": "WhatsApp refused (406)"},
    ]
    args = go.args("UpdateGroupParticipants")
    assert sent_jids(args) == [(PEER, PN, 0), (THIRD, PN, 0), ("6281200000009", PN, 0)]
    assert args[5] == action.encode()
