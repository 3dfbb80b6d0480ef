"""Contacts and profiles on a node with the sandbox engine, through the ContactCall RPC as the
backend sends it: the sandbox's magic numbers, blocking, the account's own profile, LIDs."""

from __future__ import annotations

import base64

import pytest

from node_agent import protocol
from node_agent.engines.sandbox_contacts import sandbox_lid, sandbox_phone_of_lid
from tests.node_agent.node_helpers import connect, wait_until

ALICE, BOB = "6281200000100", "6281200000200"
SHOP, PRIVATE, WITH_LID = "6281200000197", "6281200000196", "6281200000177"


def jid(phone):
    return f"{phone}@s.whatsapp.net"


def call(runtime, session_id, op, **params):
    return runtime.contacts.call(protocol.ContactCall(session_id=session_id, op=op, params=params))


def ok(answer):
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture
def alice(make_runtime, backend):
    runtime = make_runtime()
    connect(runtime, backend, "s1", ALICE)
    return runtime


def test_contacts_are_who_the_session_wrote_to_heard_from_and_shares_a_group_with(alice, backend):
    assert ok(call(alice, "s1", "list")) == {"contacts": [], "total": 0}
    assert alice.message_send("m1", "s1", {"to": SHOP, "type": "text", "text": "hi"}) == "sent"
    alice.sandbox_action("s1", "incoming", {"from": WITH_LID, "text": "halo"})
    alice.groups.call(
        protocol.GroupCall(
            session_id="s1", op="create", params={"subject": "G", "participants": [jid(BOB)]}
        )
    )
    wait_until(lambda: ok(call(alice, "s1", "list"))["total"] == 3, message="three contacts")
    listed = ok(call(alice, "s1", "list"))["contacts"]
    assert [(c["phone"], c["lid"], c["pushName"]) for c in listed] == [
        (WITH_LID, sandbox_lid(WITH_LID), "Sandbox 0177"),
        (SHOP, None, "Sandbox 0197"),
        (BOB, None, "Sandbox 0200"),
    ]
    assert [c["phone"] for c in ok(call(alice, "s1", "list", query="0197"))["contacts"]] == [SHOP]
    page = ok(call(alice, "s1", "list", limit=1, offset=1))
    assert (page["total"], [c["phone"] for c in page["contacts"]]) == (3, [SHOP])


def test_profiles_follow_the_magic_numbers(alice):
    shop = ok(call(alice, "s1", "profile", jid=jid(SHOP)))
    assert (shop["business"], shop["verifiedName"], shop["hasPicture"]) == (
        True,
        "Sandbox Shop 0197",
        True,
    )
    private = ok(call(alice, "s1", "profile", jid=jid(PRIVATE)))
    assert (private["about"], private["hasPicture"], private["business"]) == (None, False, False)
    assert ok(call(alice, "s1", "picture", jid=jid(PRIVATE))) is None
    picture = ok(call(alice, "s1", "picture", jid=jid(BOB)))
    assert picture["mimetype"] == "image/jpeg"
    assert base64.b64decode(picture["base64"]).startswith(b"\xff\xd8\xff")
    gone = call(alice, "s1", "profile", jid=jid("6281200000199"))
    assert gone["error"] == "contact_not_found"


def test_a_lid_and_its_phone_number_map_both_ways(alice):
    lid = sandbox_lid(WITH_LID)
    assert lid == "97710000021826@lid"
    assert sandbox_phone_of_lid(lid) == WITH_LID
    assert ok(call(alice, "s1", "lid", jid=jid(WITH_LID))) == {"phone": WITH_LID, "lid": lid}
    assert ok(call(alice, "s1", "lid", jid=lid)) == {"phone": WITH_LID, "lid": lid}
    assert ok(call(alice, "s1", "lid", jid=jid(BOB))) == {"phone": BOB, "lid": None}
    assert ok(call(alice, "s1", "profile", jid=lid))["phone"] == WITH_LID
    assert call(alice, "s1", "lid", jid="123456789@lid")["error"] == "contact_not_found"


def test_block_unblock_and_the_blocklist(alice):
    assert ok(call(alice, "s1", "block", jid=jid(BOB))) == {}
    assert ok(call(alice, "s1", "block", jid=sandbox_lid(WITH_LID))) == {}
    assert ok(call(alice, "s1", "blocklist")) == {"jids": [jid(WITH_LID), jid(BOB)]}
    ok(call(alice, "s1", "unblock", jid=jid(BOB)))
    assert ok(call(alice, "s1", "blocklist")) == {"jids": [jid(WITH_LID)]}


def test_the_accounts_own_profile_and_its_changes(alice):
    me = ok(call(alice, "s1", "me"))
    assert (me["jid"], me["pushName"], me["hasPicture"]) == (jid(ALICE), "Sandbox 0100", False)
    jpeg = base64.b64encode(b"\xff\xd8\xff own").decode()
    changes = {"pushName": "Toko Alice", "about": "Buka 9-5", "picture": jpeg}
    changed = ok(call(alice, "s1", "me_update", changes=changes))
    assert (changed["pushName"], changed["about"], changed["hasPicture"]) == (
        "Toko Alice",
        "Buka 9-5",
        True,
    )
    assert ok(call(alice, "s1", "picture"))["base64"] == jpeg
    removed = ok(call(alice, "s1", "me_update", changes={"picture": None}))
    assert removed["hasPicture"] is False
    assert call(alice, "s1", "me_update", changes={"colour": 1})["error"] == "bad_request"


def test_refusals_are_codes(alice):
    assert call(alice, "s1", "profile", jid="120363000000000001@g.us")["error"] == "bad_request"
    assert call(alice, "s1", "wave")["error"] == "bad_request"
    assert call(alice, "nobody", "list")["error"] == "session_not_connected"


def test_a_send_to_a_lid_lands_in_the_chat_of_its_number(alice):
    lid = sandbox_lid(WITH_LID)
    sent = alice.message_send(
        "m1", "s1", {"to": lid.split("@")[0], "chatId": lid, "type": "text", "text": "a"}
    )
    assert sent == "sent"
    [row] = alice.engines["sandbox"].network.ledger("m1")
    assert row["to_jid"] == jid(WITH_LID)
    unknown = {"to": "123456789", "chatId": "123456789@lid", "type": "text", "text": "a"}
    assert alice.message_send("m2", "s1", unknown) == "failed"
