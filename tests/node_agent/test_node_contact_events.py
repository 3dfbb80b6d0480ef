"""contact.updated on a node with the sandbox engine: renames seen on incoming messages, and a
sandbox session's own profile changes told to the sessions that know it."""

from __future__ import annotations

import base64

from node_agent import protocol
from node_agent.contact_events import CONTACT_UPDATED
from node_agent.engines.sandbox_contacts import sandbox_lid
from tests.node_agent.node_helpers import connect, outbox_drained, wait_until

ALICE, BOB, CAROL = "6281200000100", "6281200000200", "6281200000300"
WITH_LID = "6281200000177"


def jid(phone):
    return f"{phone}@s.whatsapp.net"


def contact_updates(backend, session_id):
    bodies = backend.bodies(protocol.SESSION_EVENT_PATH, sessionId=session_id)
    assert {b["type"] for b in bodies} <= {CONTACT_UPDATED}
    return [(b["data"]["contact"], b["data"]["changes"]) for b in bodies]


def me_update(runtime, session_id, **changes):
    task = protocol.ContactCall(session_id=session_id, op="me_update", params={"changes": changes})
    answer = runtime.contacts.call(task)
    assert "error" not in answer, answer


def test_a_contact_who_writes_under_a_new_push_name_is_a_contact_update(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    for name in ("Toko Ana", "Toko Ana", "Ana's Shop"):
        runtime.sandbox_action("s1", "incoming", {"from": WITH_LID, "text": "x", "pushName": name})
    runtime.sandbox_action("s1", "incoming", {"from": WITH_LID, "text": "no name given"})
    wait_until(lambda: contact_updates(backend, "s1"), message="a contact update")
    runtime.engines["sandbox"].wait_idle()
    outbox_drained(runtime)
    assert contact_updates(backend, "s1") == [(jid(WITH_LID), {"pushName": "Ana's Shop"})]
    [body] = backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")
    assert (body["data"]["phone"], body["data"]["lid"]) == (WITH_LID, sandbox_lid(WITH_LID))
    received = backend.bodies(protocol.MESSAGE_RECEIVED_PATH, sessionId="s1")
    assert [m["message"].get("pushName") for m in received][:3] == ["Toko Ana"] * 2 + ["Ana's Shop"]


def test_a_sessions_own_changes_reach_the_sessions_that_know_it(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    connect(runtime, backend, "s2", BOB)
    connect(runtime, backend, "s3", CAROL)  # knows nobody: told nothing
    created = runtime.groups.call(
        protocol.GroupCall(
            session_id="s1", op="create", params={"subject": "G", "participants": [jid(BOB)]}
        )
    )
    group = created["result"]["id"]
    picture = base64.b64encode(b"\xff\xd8\xff alice").decode()
    me_update(runtime, "s1", pushName="Toko Alice", about="only the about: no event")
    me_update(runtime, "s1", picture=picture)
    me_update(runtime, "s1", picture=None)
    expected = [
        (jid(ALICE), {"pushName": "Toko Alice"}),
        (jid(ALICE), {"picture": True}),
        (jid(ALICE), {"picture": False}),
    ]
    wait_until(lambda: len(contact_updates(backend, "s2")) == 3, message="three updates")
    assert contact_updates(backend, "s2") == expected
    assert contact_updates(backend, "s1") == contact_updates(backend, "s3") == []

    # Bob's contacts show the new name, and Alice's group message carries it
    listed = runtime.contacts.call(protocol.ContactCall(session_id="s2", op="list", params={}))
    assert [c["pushName"] for c in listed["result"]["contacts"]] == ["Toko Alice"]
    sent = runtime.message_send(
        "m1", "s1", {"to": group, "chatId": group, "type": "text", "text": "hi"}
    )
    assert sent == "sent"
    got = wait_until(lambda: backend.bodies(protocol.MESSAGE_RECEIVED_PATH, sessionId="s2"))
    assert got[0]["message"]["pushName"] == "Toko Alice"
    runtime.engines["sandbox"].wait_idle()
    outbox_drained(runtime)
    assert len(contact_updates(backend, "s2")) == 3  # the known name is not a rename again


def test_what_a_contact_and_a_session_show_follows_their_changes(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    connect(runtime, backend, "s2", BOB)
    runtime.sandbox_action("s2", "incoming", {"from": WITH_LID, "text": "x", "pushName": "Ana"})
    me_update(runtime, "s1", about="Buka 9-5", picture=base64.b64encode(b"\xff\xd8\xffA").decode())
    runtime.engines["sandbox"].wait_idle()

    def contact(op, **params):
        answer = runtime.contacts.call(protocol.ContactCall(session_id="s2", op=op, params=params))
        assert "error" not in answer, answer
        return answer["result"]

    wait_until(lambda: contact("list")["total"] == 1, message="Ana is a contact")
    assert [c["pushName"] for c in contact("list", query="ana")["contacts"]] == ["Ana"]
    assert contact("profile", jid=jid(WITH_LID))["pushName"] == "Ana"
    alice = contact("profile", jid=jid(ALICE))
    assert (alice["about"], alice["hasPicture"]) == ("Buka 9-5", True)
    assert base64.b64decode(contact("picture", jid=jid(ALICE))["base64"]) == b"\xff\xd8\xffA"
    me_update(runtime, "s1", picture=None)
    assert contact("profile", jid=jid(ALICE))["hasPicture"] is False
    assert contact("picture", jid=jid(ALICE)) is None


def test_a_change_to_what_it_was_tells_nobody(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    connect(runtime, backend, "s2", BOB)
    runtime.sandbox_action("s1", "incoming", {"from": BOB, "text": "hi"})  # they know each other
    runtime.engines["sandbox"].wait_idle()
    for _ in range(2):
        me_update(runtime, "s2", pushName="Same")
        me_update(runtime, "s2", picture=None)
    wait_until(lambda: contact_updates(backend, "s1"), message="the rename")
    runtime.engines["sandbox"].wait_idle()
    outbox_drained(runtime)
    assert contact_updates(backend, "s1") == [(jid(BOB), {"pushName": "Same"})]


def test_incoming_actions_run_in_the_order_the_api_accepted_them(runtime, backend):
    import time

    connect(runtime, backend, "s1", ALICE)
    accepted = time.time()
    for n in reversed(range(5)):  # they reach the node last first
        params = {"from": WITH_LID, "text": f"m{n}", "acceptedAt": accepted + n * 0.01}
        runtime.sandbox_action("s1", "incoming", params)
    got = wait_until(
        lambda: len(b := backend.bodies(protocol.MESSAGE_RECEIVED_PATH, sessionId="s1")) == 5 and b,
        message="five messages",
    )
    assert [b["message"]["text"] for b in got] == [f"m{n}" for n in range(5)]
