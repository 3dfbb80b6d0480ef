"""The WhatsApp engine's group calls, offline: invites, updates, refusals, whatsmeow's error
texts as GroupError codes, a session not connected, and the engine's delegation (helpers:
whatsapp_group_helpers.py)."""

from __future__ import annotations

from functools import partial

import pytest
from neonize.exc import NeonizeError
from neonize.proto import Neonize_pb2 as pb

from node_agent.engines.base import GroupError
from tests.node_agent.whatsapp_group_helpers import (
    CODE,
    DROPPED,
    FORBIDDEN,
    GROUP,
    GROUP_USER,
    NO_LINK_RIGHTS,
    NOT_ADMIN,
    NOT_FOUND,
    OLD_TOPIC,
    PN,
    FakeGo,
    empty,
    group_calls,
    group_proto,
    neonize_client,
    sent_jid,
)
from tests.node_agent.whatsapp_helpers import PEER, jid


@pytest.fixture
def wa(make_config, tmp_path):
    return group_calls(make_config, tmp_path)


def test_invites_use_whatsmeows_link_and_the_bare_code(wa):
    calls, go, _ = wa
    link = f"https://chat.whatsapp.com/{CODE}"
    go.answers["GetGroupInviteLink"] = pb.GetGroupInviteLinkReturnFunction(InviteLink=link)
    go.answers["GetGroupInfoFromLink"] = pb.GetGroupInfoReturnFunction(
        GroupInfo=group_proto(participants=[])
    )
    go.answers["JoinGroupWithLink"] = pb.JoinGroupWithLinkReturnFunction(
        Jid=jid(GROUP_USER, "g.us")
    )

    assert [calls.invite_link("w1", GROUP, reset) for reset in (False, True)] == [link, link]
    info = calls.invite_info("w1", f"{link}/")
    assert calls.join("w1", CODE) == GROUP

    revokes = [(sent_jid(args), args[3]) for name, args in go.calls if name == "GetGroupInviteLink"]
    assert revokes == [((GROUP_USER, "g.us", 0), False), ((GROUP_USER, "g.us", 0), True)]
    assert (info["id"], info["subject"], info["size"]) == (GROUP, "Shop crew", 0)
    assert go.args("GetGroupInfoFromLink")[1] == CODE.encode()
    assert go.args("JoinGroupWithLink")[1] == CODE.encode()


def test_odd_answers_are_whatsapp_errors(wa):
    calls, go, _ = wa
    go.answers["GetGroupInviteLink"] = pb.GetGroupInviteLinkReturnFunction(InviteLink="odd")
    go.answers["JoinGroupWithLink"] = pb.JoinGroupWithLinkReturnFunction(Jid=empty())
    for call in (CALLS["invite_link"][0], CALLS["join"][0]):
        with pytest.raises(GroupError) as caught:
            call(calls, "w1")
        assert caught.value.code == "whatsapp_error"


def test_bad_arguments_are_refused_before_any_call(wa):
    calls, go, _ = wa
    for call, code in [
        (lambda: calls.info("w1", "not-a-group"), "group_not_found"),
        (lambda: calls.leave("w1", f"{PEER}@{PN}"), "group_not_found"),
        (lambda: calls.invite_info("w1", "https://chat.whatsapp.com/no!"), "invite_invalid"),
        (lambda: calls.join("w1", ""), "invite_invalid"),
    ]:
        with pytest.raises(GroupError) as caught:
            call()
        assert caught.value.code == code
    with pytest.raises(ValueError, match="ban"):
        calls.participants("w1", GROUP, "ban", [f"{PEER}@{PN}"])
    assert go.calls == []


def test_update_applies_changes_in_groups_order(wa):
    calls, go, _ = wa
    go.answers["SetGroupPhoto"] = pb.SetGroupPhotoReturnFunction(PictureID="1700000000")
    jpeg = b"\xff\xd8\xff\xe0jpeg"
    changes = dict(picture=jpeg, locked=False, description="", announce=True, subject="N")

    calls.update("w1", GROUP, changes)  # given in another order than groups.CHANGE_KEYS

    assert go.names() == [f"SetGroup{n}" for n in ("Name", "Topic", "Announce", "Locked", "Photo")]
    assert {sent_jid(args) for _, args in go.calls} == {(GROUP_USER, "g.us", 0)}
    assert go.args("SetGroupName")[3].value == b"N"
    assert go.args("SetGroupTopic")[3:] == (b"", b"", b"")  # whatsmeow finds the previous id
    assert (go.args("SetGroupAnnounce")[3], go.args("SetGroupLocked")[3]) == (True, False)
    assert go.args("SetGroupPhoto")[3:] == (jpeg, len(jpeg))


def test_update_stops_at_the_first_refusal_and_refuses_what_neonize_cannot(wa):
    calls, go, _ = wa
    go.answers["SetGroupTopic"] = NOT_ADMIN
    with pytest.raises(GroupError) as caught:
        calls.update("w1", GROUP, {"subject": "S", "description": "D", "announce": True})
    assert caught.value.code == "not_admin"
    assert go.names() == ["SetGroupName", "SetGroupTopic"]  # announce never tried

    for cannot in ({"joinApproval": True}, {"picture": None}):  # refused before any change
        with pytest.raises(GroupError) as caught:
            calls.update("w1", GROUP, {"subject": "S2", **cannot})
        assert caught.value.code == "groups_unsupported"
    assert len(go.calls) == 2


# Each call, the export it ends in, and how that carries an error (None: as a C string).
SET_PHOTO = partial(pb.SetGroupPhotoReturnFunction, PictureID="")
CALLS = {
    "joined": (lambda c, s: c.joined(s), "GetJoinedGroups", pb.GetJoinedGroupsReturnFunction),
    "info": (lambda c, s: c.info(s, GROUP), "GetGroupInfo", pb.GetGroupInfoReturnFunction),
    "create": (lambda c, s: c.create(s, "S", []), "CreateGroup", pb.GetGroupInfoReturnFunction),
    "participants": (
        lambda c, s: c.participants(s, GROUP, "add", [f"{PEER}@{PN}"]),
        "UpdateGroupParticipants",
        pb.UpdateGroupParticipantsReturnFunction,
    ),
    "invite_link": (
        lambda c, s: c.invite_link(s, GROUP, False),
        "GetGroupInviteLink",
        pb.GetGroupInviteLinkReturnFunction,
    ),
    "invite_info": (
        lambda c, s: c.invite_info(s, CODE),
        "GetGroupInfoFromLink",
        pb.GetGroupInfoReturnFunction,
    ),
    "join": (lambda c, s: c.join(s, CODE), "JoinGroupWithLink", pb.JoinGroupWithLinkReturnFunction),
    "update": (lambda c, s: c.update(s, GROUP, {"description": "D"}), "SetGroupTopic", None),
    "picture": (lambda c, s: c.update(s, GROUP, {"picture": b"x"}), "SetGroupPhoto", SET_PHOTO),
    "leave": (lambda c, s: c.leave(s, GROUP), "LeaveGroup", None),
}


@pytest.mark.parametrize(
    ("call", "text", "code"),
    [
        ("info", "that group does not exist", "group_not_found"),
        ("info", "you're not participating in that group", "not_participant"),
        ("info", NOT_ADMIN, "not_admin"),
        ("info", FORBIDDEN, "not_participant"),
        ("info", NOT_FOUND, "group_not_found"),
        ("info", "client is nil", "session_not_connected"),
        ("info", "websocket not connected", "session_not_connected"),
        ("info", "the store doesn't contain a device JID", "session_not_connected"),
        ("info", DROPPED, "session_not_connected"),
        ("info", "info query timed out", "whatsapp_error"),
        ("invite_link", NO_LINK_RIGHTS, "not_admin"),
        ("invite_info", "that group invite link has been revoked", "invite_invalid"),
        ("invite_info", NOT_FOUND, "invite_invalid"),  # the code, not a group, is unknown
        ("join", "that group invite link is not valid", "invite_invalid"),
        ("join", "info query returned status 409: conflict", "already_participant"),
        ("join", "info query returned status 410: gone", "invite_invalid"),
        ("participants", NOT_ADMIN, "not_admin"),
        ("create", "info query returned status 406: not-acceptable", "whatsapp_error"),
        ("update", "info query returned status 409: conflict", "whatsapp_error"),  # stale topic id
        ("update", OLD_TOPIC, "group_not_found"),
        ("picture", "the given data is not a valid image", "whatsapp_error"),
        ("leave", FORBIDDEN, "not_participant"),
    ],
)
def test_whatsmeows_error_texts_map_to_group_errors(wa, call, text, code):
    calls, go, _ = wa
    run_call, export, carrier = CALLS[call]
    go.answers[export] = text if carrier is None else carrier(Error=text)

    with pytest.raises(GroupError) as caught:
        run_call(calls, "w1")

    assert (caught.value.code, caught.value.message) == (code, text)  # WhatsApp's words kept
    assert isinstance(caught.value.__cause__, NeonizeError)  # raised by neonize's own wrapper


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(
    ("state", "running", "session"),
    [("reconnecting", True, "w1"), ("connected", False, "w1"), ("connected", True, "w2")],
)
def test_a_session_not_connected_is_refused_before_any_call(wa, call, state, running, session):
    calls, go, run = wa
    run.state, run.connect_running = state, running
    with pytest.raises(GroupError) as caught:
        CALLS[call][0](calls, session)
    assert caught.value.code == "session_not_connected"
    assert go.calls == []


def test_the_engine_delegates_every_group_method(make_config, tmp_path):
    from node_agent.engines.whatsapp import WhatsAppEngine

    engine = WhatsAppEngine(make_config(), lambda *args: None, connect=False)
    methods = [
        ("groups_joined", ()),
        ("group_info", (GROUP,)),
        ("group_create", ("S", [])),
        ("group_participants", (GROUP, "add", [])),
        ("group_invite_link", (GROUP,)),
        ("group_invite_info", (CODE,)),
        ("group_join", (CODE,)),
        ("group_update", (GROUP, {"subject": "S"})),
        ("group_leave", (GROUP,)),
    ]
    try:
        for name, args in methods:
            with pytest.raises(GroupError) as caught:
                getattr(engine, name)("w1", *args)
            assert caught.value.code == "session_not_connected", name  # not groups_unsupported

        # A connected run, as connection.py and events.py make of a live session.
        go = FakeGo()
        go.answers["GetGroupInfo"] = pb.GetGroupInfoReturnFunction(GroupInfo=group_proto())
        run = engine._registry.add("w1", "qr", None, None)
        run.client, run.state, run.connect_running = neonize_client(tmp_path, go), "connected", True
        assert engine.group_info("w1", GROUP)["subject"] == "Shop crew"
        engine.group_leave("w1", GROUP)
        assert go.names() == ["GetGroupInfo", "LeaveGroup"]
        assert sent_jid(go.args("LeaveGroup")) == (GROUP_USER, "g.us", 0)
    finally:
        engine.shutdown()
