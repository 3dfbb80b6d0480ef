"""Chats and presence on a node with the sandbox engine, through the ChatCall RPC as the backend
sends it: the chat list from the node's history, reads, flags, deleting; the account's presence;
contacts' presence reported as presence.update."""

from __future__ import annotations

from node_agent import protocol
from node_agent.chats import PRESENCE_UPDATED
from tests.node_agent.node_helpers import connect, outbox_drained, wait_until

ALICE, ANA, BUDI, PRIVATE = "6281200000100", "6281200000301", "6281200000302", "6281200000196"


def jid(phone):
    return f"{phone}@s.whatsapp.net"


def call(runtime, op, **params):
    return runtime.chats.call(protocol.ChatCall(session_id="s1", op=op, params=params))


def ok(answer):
    assert "error" not in answer, answer
    return answer["result"]


def _incoming(runtime, sender, text):
    runtime.sandbox_action("s1", "incoming", {"from": sender, "text": text})


def _chats(runtime, **params):
    return {c["id"]: c for c in ok(call(runtime, "list", **params))["chats"]}


def test_the_chat_list_reads_flags_and_deleting(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    _incoming(runtime, ANA, "one")
    _incoming(runtime, ANA, "two")
    wait_until(lambda: ok(call(runtime, "list"))["total"] == 1, message="Ana's chat")
    assert runtime.message_send("m1", "s1", {"to": BUDI, "type": "text", "text": "hi"}) == "sent"
    listed = ok(call(runtime, "list"))
    assert [c["id"] for c in listed["chats"]] == [jid(BUDI), jid(ANA)]  # the newest first
    ana = listed["chats"][1]
    assert (ana["unread"], ana["lastMessage"]["content"]["text"]) == (2, "two")
    assert (ana["archived"], ana["pinned"], ana["mutedUntil"]) == (False, False, None)

    assert ok(call(runtime, "read", chat=jid(ANA))) == {"read": 2}
    assert _chats(runtime)[jid(ANA)]["unread"] == 0
    [read] = [e for e in runtime.engines["sandbox"].presence_log("s1") if e["kind"] == "read"]
    assert (read["chat"], len(read["ids"])) == (jid(ANA), 2)  # read receipts went out
    assert ok(call(runtime, "read", chat=jid(ANA))) == {"read": 0}

    pinned = ok(
        call(runtime, "update", chat=jid(ANA), pinned=True, mutedUntil="2027-01-01T00:00:00Z")
    )
    assert (pinned["pinned"], pinned["mutedUntil"]) == (True, "2027-01-01T00:00:00Z")
    assert [c["id"] for c in ok(call(runtime, "list"))["chats"]] == [jid(ANA), jid(BUDI)]
    page = ok(call(runtime, "list", limit=1, offset=1))
    assert (page["total"], [c["id"] for c in page["chats"]]) == (2, [jid(BUDI)])

    assert ok(call(runtime, "delete", chat=jid(ANA))) == {"deleted": 2}
    assert list(_chats(runtime)) == [jid(BUDI)]
    history = runtime.messages.history(protocol.MessagesList(session_id="s1", chat=jid(BUDI)))
    assert [m["content"]["text"] for m in history] == ["hi"]


def test_the_accounts_presence_and_typing_are_told(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    assert ok(call(runtime, "presence", state="available")) == {}
    assert ok(call(runtime, "chat_presence", chat=jid(ANA), state="recording")) == {}
    assert ok(call(runtime, "chat_presence", chat=jid(ANA), state="paused")) == {}
    engine = runtime.engines["sandbox"]
    assert [e["state"] for e in engine.presence_log("s1")] == ["available"]
    assert [e["state"] for e in engine.chat_states("s1")] == ["recording", "paused"]


def test_a_contacts_presence_is_reported(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    ok(call(runtime, "subscribe", jid=jid(ANA)))
    ok(call(runtime, "subscribe", jid=jid(PRIVATE)))
    runtime.sandbox_action("s1", "presence", {"from": ANA, "state": "typing"})
    runtime.sandbox_action("s1", "presence", {"from": ANA, "state": "unavailable"})

    def updates():
        bodies = backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")
        return [b["data"] for b in bodies if b["type"] == PRESENCE_UPDATED]

    wait_until(lambda: len(updates()) == 4, message="four presence updates")
    runtime.engines["sandbox"].wait_idle()
    outbox_drained(runtime)
    got = updates()
    assert [(u["contact"], u["state"]) for u in got] == [
        (jid(ANA), "available"),
        (jid(PRIVATE), "unavailable"),
        (jid(ANA), "typing"),
        (jid(ANA), "unavailable"),
    ]
    assert got[1]["lastSeen"] is None  # a private number shares no last seen
    assert got[2]["chat"] is None
    assert got[3]["lastSeen"]


def test_refusals_are_codes(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    assert call(runtime, "presence", state="asleep")["error"] == "bad_request"
    assert call(runtime, "chat_presence", chat="nonsense", state="typing")["error"] == "bad_request"
    assert call(runtime, "update", chat=jid(ANA))["error"] == "bad_request"  # nothing to change
    assert call(runtime, "subscribe", jid=jid("6281200000199"))["error"] == "contact_not_found"
    assert call(runtime, "wave")["error"] == "bad_request"
    nobody = runtime.chats.call(protocol.ChatCall(session_id="nobody", op="list"))
    assert nobody["error"] == "session_not_connected"


def test_a_contacts_reaction_edit_and_revoke_are_reported(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    _incoming(runtime, ANA, "theirs")
    assert runtime.message_send("m1", "s1", {"to": ANA, "type": "text", "text": "ours"}) == "sent"
    [received] = wait_until(lambda: backend.bodies(protocol.MESSAGE_RECEIVED_PATH, sessionId="s1"))
    theirs = received["message"]["id"]
    ours = runtime.engines["sandbox"].network.ledger("m1")[0]["wa_message_id"]

    def act(action, message_id, sender=ANA, **more):
        params = {"from": sender, "action": action, "messageId": message_id, **more}
        runtime.sandbox_action("s1", "message_action", params)

    act("react", ours, emoji="🙏")  # anyone's message of the chat
    act("edit", theirs, text="v2")  # their own only
    act("revoke", theirs)
    act("edit", ours, text="not theirs to edit")  # ignored, as the rest below
    act("revoke", "3EB0NOSUCH")
    act("react", theirs, sender=BUDI, emoji="!")  # not in Budi's chat
    act("explode", theirs)
    bodies = wait_until(
        lambda: len(b := backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")) >= 3 and b
    )
    runtime.engines["sandbox"].wait_idle()
    outbox_drained(runtime)
    bodies = backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")
    assert [(b["type"], b["data"]["messageId"]) for b in bodies] == [
        ("message.reaction", ours),
        ("message.edited", theirs),
        ("message.revoked", theirs),
    ]
    assert (bodies[0]["data"]["emoji"], bodies[1]["data"]["text"]) == ("🙏", "v2")
    assert (bodies[0]["data"]["from"], bodies[0]["data"]["senderJid"]) == (ANA, jid(ANA))


def test_calls_are_reported_and_declined_with_a_reply_when_the_policy_says(runtime, backend):
    connect(runtime, backend, "s1", ALICE)

    def events(type_):
        bodies = backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")
        return [b["data"] for b in bodies if b["type"] == type_]

    runtime.sandbox_action("s1", "call", {"from": ANA})
    wait_until(lambda: events("call.received"), message="a call")
    engine = runtime.engines["sandbox"]
    assert not [e for e in engine.presence_log("s1") if e["kind"] == "call_rejected"]

    policy = {"reject": True, "message": "Kami tidak menerima telepon, silakan chat."}
    assert ok(call(runtime, "calls", **policy)) == policy
    runtime.sandbox_action("s1", "call", {"from": BUDI, "video": True})
    wait_until(lambda: events("call.rejected"), message="a declined call")
    second = events("call.received")[1]
    [rejected] = events("call.rejected")
    assert (second["from"], second["video"]) == (jid(BUDI), True)
    assert (rejected["from"], rejected["callId"]) == (jid(BUDI), second["callId"])
    [declined] = [e for e in engine.presence_log("s1") if e["kind"] == "call_rejected"]
    assert declined["callId"] == second["callId"]
    replies = [r for r in engine.network.ledger() if r["to_jid"] == jid(BUDI)]
    assert [r["payload"]["text"] for r in replies] == [policy["message"]]
    assert call(runtime, "calls", reject="yes")["error"] == "bad_request"


def test_the_session_edits_and_revokes_what_it_sent(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    assert (
        runtime.message_send("m1", "s1", {"to": ANA, "type": "text", "text": "Buka jam 8"})
        == "sent"
    )
    [sent] = runtime.engines["sandbox"].network.ledger("m1")
    edit = {
        "to": ANA,
        "type": "edit",
        "edit": {"messageId": sent["wa_message_id"]},
        "text": "jam 9",
    }
    assert runtime.message_send("m2", "s1", edit) == "sent"
    revoke = {"to": ANA, "type": "revoke", "revoke": {"messageId": sent["wa_message_id"]}}
    assert runtime.message_send("m3", "s1", revoke) == "sent"
    ledger = runtime.engines["sandbox"].network.ledger()
    assert [r["payload"]["type"] for r in ledger if r["to_jid"] == jid(ANA)] == [
        "text",
        "edit",
        "revoke",
    ]


def test_reading_given_messages_marks_them_and_those_before_and_a_lid_names_the_chat(
    runtime, backend
):
    from node_agent.engines.sandbox_contacts import sandbox_lid

    connect(runtime, backend, "s1", ALICE)
    with_lid = "6281200000177"
    for text in ("a", "b", "c"):
        _incoming(runtime, with_lid, text)
    wait_until(
        lambda: _chats(runtime).get(jid(with_lid), {}).get("unread") == 3, message="3 unread"
    )
    history = runtime.messages.history(protocol.MessagesList(session_id="s1", chat=jid(with_lid)))
    second = history[1]["waMessageId"]
    lid = sandbox_lid(with_lid)
    # by its LID, and up to it: the one before too, as WhatsApp's clients read a chat
    assert ok(call(runtime, "read", chat=lid, messageIds=[second])) == {"read": 2}
    assert _chats(runtime)[jid(with_lid)]["unread"] == 1
    assert ok(call(runtime, "read", chat=jid(with_lid), messageIds=[second])) == {"read": 0}
    assert ok(call(runtime, "read", chat=lid)) == {"read": 1}
    assert call(runtime, "read", chat=lid, messageIds=[])["error"] == "bad_request"
    assert call(runtime, "update", chat=jid(BUDI), pinned=True)["error"] == "chat_not_found"
    assert ok(call(runtime, "update", chat=lid, archived=True))["archived"] is True


def test_a_contact_votes_in_the_sessions_poll(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    poll = {"name": "Lunch?", "options": ["Soto", "Nasi"], "selectableCount": 1}
    assert runtime.message_send("m1", "s1", {"to": ANA, "type": "poll", "poll": poll}) == "sent"
    assert (
        runtime.message_send("m2", "s1", {"to": ANA, "type": "text", "text": "no poll"}) == "sent"
    )
    ledger = runtime.engines["sandbox"].network
    poll_id, text_id = (ledger.ledger(m)[0]["wa_message_id"] for m in ("m1", "m2"))
    for message_id, options in ((poll_id, ["Nasi", "Pizza"]), (text_id, ["Soto"])):
        params = {"from": ANA, "action": "vote", "messageId": message_id, "options": options}
        runtime.sandbox_action("s1", "message_action", params)
    [vote] = wait_until(lambda: backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1"))
    assert (vote["type"], vote["data"]["messageId"], vote["data"]["selected"]) == (
        "poll.vote",
        poll_id,
        ["Nasi"],  # only the poll's own options; a vote on a text is ignored
    )
    runtime.engines["sandbox"].wait_idle()
    outbox_drained(runtime)
    assert len(backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")) == 1


def test_reads_flags_and_deletes_are_chat_updated_events(runtime, backend):
    connect(runtime, backend, "s1", ALICE)
    _incoming(runtime, ANA, "one")
    wait_until(lambda: _chats(runtime).get(jid(ANA)), message="Ana's chat")
    ok(call(runtime, "read", chat=jid(ANA)))
    ok(call(runtime, "read", chat=jid(ANA)))  # nothing new to read: no event
    ok(call(runtime, "update", chat=jid(ANA), pinned=True))
    ok(call(runtime, "delete", chat=jid(ANA)))

    def updates():
        bodies = backend.bodies(protocol.SESSION_EVENT_PATH, sessionId="s1")
        return [b["data"] for b in bodies if b["type"] == "chat.updated"]

    wait_until(lambda: len(updates()) == 3, message="three chat updates")
    read, pinned, deleted = updates()
    assert (read["chatId"], read["unread"], read["pinned"]) == (jid(ANA), 0, False)
    assert pinned["pinned"] is True
    assert (deleted["unread"], deleted["pinned"]) == (0, False)  # nothing is kept of it
