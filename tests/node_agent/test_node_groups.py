"""Groups on a node with the sandbox engine, through the GroupCall RPC as the backend sends it:
WhatsApp's rules among sandbox sessions, the node's store for listing, refusals as codes."""

from __future__ import annotations

import base64

import pytest

from node_agent import protocol
from node_agent.group_calls import LIST_MAX_AGE_S
from tests.node_agent.node_helpers import connect

ALICE, BOB, CAROL = "6281200000100", "6281200000200", "6281200000300"


def jid(phone):
    return f"{phone}@s.whatsapp.net"


def call(runtime, session_id, op, **params):
    return runtime.groups.call(protocol.GroupCall(session_id=session_id, op=op, params=params))


def ok(answer):
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture
def two(make_runtime, backend):
    """One node, two sandbox sessions: s1 is Alice, s2 is Bob."""
    runtime = make_runtime()
    connect(runtime, backend, "s1", ALICE)
    connect(runtime, backend, "s2", BOB)
    return runtime


def test_create_then_info_names_the_owner_admins_and_members(two):
    made = ok(call(two, "s1", "create", subject="Kopi", participants=[jid(BOB), jid(CAROL)]))
    assert made["id"].endswith("@g.us")
    assert (made["subject"], made["owner"], made["size"]) == ("Kopi", jid(ALICE), 3)
    roles = {p["jid"]: (p["admin"], p["superAdmin"], p["phone"]) for p in made["participants"]}
    assert roles == {
        jid(ALICE): (True, True, ALICE),
        jid(BOB): (False, False, BOB),
        jid(CAROL): (False, False, CAROL),
    }
    # The other member sees the same group.
    assert ok(call(two, "s2", "info", group=made["id"]))["participants"] == made["participants"]


def test_participants_answer_per_member_and_only_admins_may_change_them(two):
    group = ok(call(two, "s1", "create", subject="Team", participants=[jid(BOB)]))["id"]
    results = ok(
        call(
            two,
            "s1",
            "participants",
            group=group,
            action="add",
            participants=[jid(BOB), jid(CAROL), jid("6281200000199"), jid("6281200000198")],
        )
    )
    assert [(r["jid"], r["result"]) for r in results] == [
        (jid(BOB), "already_participant"),
        (jid(CAROL), "added"),
        (jid("6281200000199"), "not_on_whatsapp"),
        (jid("6281200000198"), "invite_required"),
    ]
    assert set(results[3]["invite"]) == {"code", "expiresAt"}
    # Bob is a member, not an admin: refused, and nothing changed.
    refused = call(
        two, "s2", "participants", group=group, action="remove", participants=[jid(CAROL)]
    )
    assert refused["error"] == "not_admin"
    promoted = call(
        two, "s1", "participants", group=group, action="promote", participants=[jid(BOB)]
    )
    assert ok(promoted) == [{"jid": jid(BOB), "result": "promoted"}]
    removed = call(
        two, "s2", "participants", group=group, action="remove", participants=[jid(CAROL)]
    )
    assert ok(removed) == [{"jid": jid(CAROL), "result": "removed"}]
    members = {p["jid"] for p in ok(call(two, "s1", "info", group=group))["participants"]}
    assert members == {jid(ALICE), jid(BOB)}


def test_invite_link_join_by_link_revoke_and_leave(two):
    group = ok(call(two, "s1", "create", subject="Open", participants=[]))["id"]
    invite = ok(call(two, "s1", "invite_link", group=group))
    assert invite["link"] == "https://chat.whatsapp.com/" + invite["code"]
    assert call(two, "s2", "invite_link", group=group)["error"] == "not_participant"
    assert ok(call(two, "s2", "invite_info", code=invite["link"]))["subject"] == "Open"
    assert ok(call(two, "s2", "join", code=invite["link"])) == {"id": group}
    assert jid(BOB) in {p["jid"] for p in ok(call(two, "s1", "info", group=group))["participants"]}
    renewed = ok(call(two, "s1", "invite_link", group=group, reset=True))
    assert renewed["code"] != invite["code"]
    assert call(two, "s2", "invite_info", code=invite["code"])["error"] == "invite_invalid"
    assert ok(call(two, "s2", "leave", group=group)) == {}
    assert call(two, "s2", "leave", group=group)["error"] == "not_participant"
    assert call(two, "s2", "info", group=group)["error"] == "not_participant"  # members only


def test_settings_and_a_locked_group_refuse_members_edits(two):
    group = ok(call(two, "s1", "create", subject="Rules", participants=[jid(BOB)]))["id"]
    picture = base64.b64encode(b"\xff\xd8\xff jpeg").decode()
    changes = {"subject": "Rules v2", "description": "Be kind", "locked": True, "picture": picture}
    info = ok(call(two, "s1", "update", group=group, changes=changes))
    assert (info["subject"], info["description"], info["locked"]) == ("Rules v2", "Be kind", True)
    assert call(two, "s2", "update", group=group, changes={"subject": "x"})["error"] == "not_admin"
    assert (
        call(two, "s2", "update", group=group, changes={"announce": True})["error"] == "not_admin"
    )
    bad = call(two, "s1", "update", group=group, changes={"colour": "red"})
    assert bad["error"] == "bad_request"


def test_list_is_served_from_the_store_paged_and_searched(two, monkeypatch):
    for n in range(5):
        ok(call(two, "s1", "create", subject=f"Group {n}", participants=[]))
    first = ok(call(two, "s1", "list", limit=2))
    assert first["total"] == 5
    assert [g["subject"] for g in first["groups"]] == ["Group 0", "Group 1"]
    assert [g["subject"] for g in ok(call(two, "s1", "list", offset=4))["groups"]] == ["Group 4"]
    assert [g["subject"] for g in ok(call(two, "s1", "list", query="p 3"))["groups"]] == ["Group 3"]
    # A group made where this node hears nothing of it (another node's session adds Alice) is
    # seen on the next refresh, not before.
    network = two.engines["sandbox"]._group_net
    network.create(jid(BOB), "From elsewhere", [jid(ALICE)])
    assert ok(call(two, "s1", "list"))["total"] == 5
    assert ok(call(two, "s1", "list", refresh=True))["total"] == 6
    network.create(jid(BOB), "Later", [jid(ALICE)])
    clock = two.groups._clock
    monkeypatch.setattr(two.groups, "_clock", lambda: clock() + LIST_MAX_AGE_S + 1)
    assert ok(call(two, "s1", "list"))["total"] == 7  # stale: filled again in one call


def test_refusals_are_codes_never_exceptions(two):
    assert call(two, "s1", "info", group="120363000000000001@g.us")["error"] == "group_not_found"
    assert call(two, "s1", "info", group="not-a-group")["error"] == "bad_request"
    assert call(two, "s1", "join", code="A" * 22)["error"] == "invite_invalid"
    assert call(two, "s1", "shout")["error"] == "bad_request"
    assert call(two, "gone", "list")["error"] == "session_not_connected"
    create = call(two, "s1", "create", subject="x", participants="6281200000200")
    assert create["error"] == "bad_request"


def test_every_change_is_reported_to_each_members_session_as_a_group_event(two, backend):
    from node_agent.protocol import GROUP_EVENT_PATH
    from tests.node_agent.node_helpers import wait_until

    def events(session_id):
        return [
            (b["event"], b["data"].get("action"), b.get("by"))
            for b in backend.bodies(GROUP_EVENT_PATH, sessionId=session_id)
        ]

    group = ok(call(two, "s1", "create", subject="News", participants=[jid(BOB)]))["id"]
    ok(call(two, "s1", "participants", group=group, action="promote", participants=[jid(BOB)]))
    ok(call(two, "s2", "update", group=group, changes={"subject": "News 2"}))
    ok(call(two, "s2", "leave", group=group))
    expected_bob = [
        ("joined", None, jid(ALICE)),
        ("participants", "promote", jid(ALICE)),
        ("updated", None, jid(BOB)),
        ("left", None, jid(BOB)),
    ]
    wait_until(lambda: len(events("s2")) == 4 and len(events("s1")) == 4, message="events")
    assert events("s2") == expected_bob
    assert events("s1") == [
        ("joined", None, jid(ALICE)),
        ("participants", "promote", jid(ALICE)),
        ("updated", None, jid(BOB)),
        ("participants", "remove", jid(BOB)),
    ]
    [joined] = [
        b for b in backend.bodies(GROUP_EVENT_PATH, sessionId="s2") if b["event"] == "joined"
    ]
    assert joined["group"] == group
    assert joined["data"]["info"]["subject"] == "News"
    [updated] = [
        b for b in backend.bodies(GROUP_EVENT_PATH, sessionId="s1") if b["event"] == "updated"
    ]
    assert updated["data"] == {"changes": {"subject": "News 2"}}
    # The node's copy of Bob's groups forgot the group he left.
    assert ok(call(two, "s2", "list"))["total"] == 0


def test_a_message_to_the_group_reaches_the_other_members_sessions(two, backend):
    from node_agent.protocol import MESSAGE_RECEIVED_PATH, MESSAGE_STATUS_PATH
    from tests.node_agent.node_helpers import wait_until

    group = ok(call(two, "s1", "create", subject="Chat", participants=[jid(BOB)]))["id"]
    text = {"to": group.split("@")[0], "chatId": group, "type": "text", "text": "Halo semua"}
    assert two.message_send("m1", "s1", text) == "sent"
    [received] = wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="s2"))
    message = received["message"]
    assert (message["chatId"], message["from"], message["text"]) == (group, ALICE, "Halo semua")
    assert (message["isGroup"], message["senderJid"]) == (True, jid(ALICE))
    assert backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="s1") == []  # not to the sender
    # Announce-only: a member who is not an admin may not send; a non-member never.
    ok(call(two, "s1", "update", group=group, changes={"announce": True}))
    assert two.message_send("m2", "s2", {**text, "text": "me too"}) == "failed"
    ok(call(two, "s2", "leave", group=group))
    assert two.message_send("m3", "s2", text) == "failed"

    def failed():
        bodies = backend.bodies(MESSAGE_STATUS_PATH, sessionId="s2")
        return {b["messageId"]: b["error"]["code"] for b in bodies if b["status"] == "failed"}

    wait_until(lambda: len(failed()) == 2, message="two failed reports")
    assert failed() == {"m2": "not_admin", "m3": "not_participant"}


def test_a_session_in_500_groups_lists_them_from_one_engine_call(two, monkeypatch):
    """bench/groups_list.py measures the time; here: one fill, every page from the copy."""
    ok(call(two, "s1", "list"))  # opens the sandbox's group network
    network = two.engines["sandbox"]._group_net
    for n in range(500):
        network.create(jid(BOB), f"G{n:03d}", [jid(ALICE)])
    calls = []
    joined = two.engines["sandbox"].groups_joined
    monkeypatch.setattr(
        two.engines["sandbox"], "groups_joined", lambda sid: calls.append(sid) or joined(sid)
    )
    first = ok(call(two, "s1", "list", limit=500, refresh=True))
    assert (first["total"], len(first["groups"])) == (500, 500)
    pages = [ok(call(two, "s1", "list", limit=100, offset=o))["groups"] for o in range(0, 500, 100)]
    assert [g["subject"] for page in pages for g in page] == [f"G{n:03d}" for n in range(500)]
    assert calls == ["s1"]  # one WhatsApp (engine) call for all of them


def test_each_member_reading_a_group_message_is_a_message_read(two, backend):
    from tests.node_agent.node_helpers import wait_until

    group = ok(call(two, "s1", "create", subject="Reads", participants=[jid(BOB), jid(CAROL)]))
    text = {"to": group["id"].split("@")[0], "chatId": group["id"], "type": "text", "text": "?"}
    assert two.message_send("m1", "s1", text) == "sent"

    def reads():
        bodies = backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")
        return sorted(b["data"]["from"] for b in bodies if b["type"] == "message.read")

    wait_until(lambda: len(reads()) == 2, message="two readers")
    assert reads() == [BOB, CAROL]  # everyone but the sender, once each
