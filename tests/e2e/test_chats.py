"""Chats and presence end to end on real processes: a sandbox contact writes, the chat lists
with its unread count, the session reads it; the contact types, goes offline, reacts to a
message, edits and revokes one: each arrives once, signed, on a webhook and on the stream."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from tests.e2e.stack import Api, wait_for
from tests.e2e.test_stream import StreamClient
from tests.sessions_app.webhooks.receiver import Receiver

pytestmark = pytest.mark.e2e
ANA = "6281200000301"
TYPES = ["presence.update", "message.reaction", "message.edited", "message.revoked", "poll.vote"]


def test_chats_reads_and_a_contacts_presence(gateway_stack):
    stack = gateway_stack
    stream_url = stack.start_stream()
    key = stack.create_api_key("chats@example.com")
    api = Api(stack.base_url, key)
    sid = api.link_sandbox("C")
    at = f"/api/v1/sessions/{sid}"
    receiver = Receiver().start()
    try:
        hook = api.ok(
            "POST",
            "/api/v1/webhooks",
            json={"url": receiver.url, "eventTypes": TYPES},
        )
        stream = StreamClient(stream_url, key, types=",".join(TYPES))
        for text in ("Halo", "Masih buka?"):
            api.ok("POST", f"{at}/sandbox/incoming", json={"from": f"+{ANA}", "text": text})
        chats = wait_for(
            lambda: (c := api.ok("GET", f"{at}/chats"))["total"] == 1
            and c["chats"][0]["unread"] == 2
            and c,
            timeout_s=20,
            what="Ana's chat with two unread",
        )
        chat = chats["chats"][0]
        assert (chat["id"], chat["lastMessage"]["content"]["text"]) == (
            f"{ANA}@s.whatsapp.net",
            "Masih buka?",
        )
        assert api.ok("POST", f"{at}/chats/{ANA}/read", json={}) == {"read": 2}
        assert api.ok("GET", f"{at}/chats")["chats"][0]["unread"] == 0
        history = api.ok("GET", f"{at}/messages", params={"chat": ANA})
        assert [m["content"]["text"] for m in history] == ["Halo", "Masih buka?"]

        assert api.ok("POST", f"{at}/presence", json={"state": "available"}) == {}
        assert api.ok("POST", f"{at}/contacts/{ANA}/presence") == {}  # subscribe: available
        assert api.ok("POST", f"{at}/chats/{ANA}/presence", json={"state": "typing"}) == {}
        api.ok("POST", f"{at}/sandbox/presence", json={"from": f"+{ANA}", "state": "typing"})
        api.ok("POST", f"{at}/sandbox/presence", json={"from": f"+{ANA}", "state": "unavailable"})
        acted = history[0]["waMessageId"]  # Ana's own message: she may edit and revoke it
        for action in (
            {"action": "react", "emoji": "👍"},
            {"action": "edit", "text": "Halo!"},
            {"action": "revoke"},
        ):
            body = {"from": f"+{ANA}", "messageId": acted, **action}
            api.ok("POST", f"{at}/sandbox/message-action", json=body)
        poll = {"name": "Lunch?", "options": ["Soto", "Nasi"], "selectableCount": 1}
        sent = api.ok(
            "POST",
            "/api/v1/messages",
            json={"sessionId": sid, "to": ANA, "type": "poll", "poll": poll},
        )
        poll_id = wait_for(
            lambda: api.ok("GET", f"/api/v1/messages/{sent['messageId']}").get("waMessageId"),
            timeout_s=20,
            what="the poll sent",
        )
        vote = {"from": f"+{ANA}", "action": "vote", "messageId": poll_id, "options": ["Soto"]}
        api.ok("POST", f"{at}/sandbox/message-action", json=vote)
        wait_for(lambda: len(receiver.requests) >= 7, timeout_s=20, what="seven webhooks")
        wait_for(lambda: len(stream.events) >= 7, timeout_s=20, what="seven stream events")
    finally:
        receiver.stop()
    payloads = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    presence = [p["data"] for p in payloads if p["type"] == "presence.update"]
    assert sorted(p["state"] for p in presence) == ["available", "typing", "unavailable"]
    assert {p["contact"] for p in presence} == {f"{ANA}@s.whatsapp.net"}
    actions = {p["type"]: p["data"] for p in payloads if p["type"] != "presence.update"}
    assert actions["message.reaction"]["emoji"] == "👍"
    assert actions["message.edited"]["text"] == "Halo!"
    votes = actions.pop("poll.vote")
    assert (votes["messageId"], votes["selected"]) == (poll_id, ["Soto"])
    assert {a["messageId"] for a in actions.values()} == {acted}
    assert len(payloads) == 7  # each once
    assert sorted(e[0] for e in stream.events) == sorted(p["id"] for p in payloads)  # the same
    stream.close()


def test_a_call_is_declined_with_a_reply_when_the_session_says_so(gateway_stack):
    stack = gateway_stack
    api = Api(stack.base_url, stack.create_api_key("calls@example.com"))
    sid = api.link_sandbox("Calls")
    at = f"/api/v1/sessions/{sid}"
    receiver = Receiver().start()
    try:
        kinds = ["call.received", "call.rejected"]
        hook = api.ok("POST", "/api/v1/webhooks", json={"url": receiver.url, "eventTypes": kinds})
        policy = {"reject": True, "message": "No calls, please write."}
        assert api.ok("PUT", f"{at}/calls", json=policy) == policy
        api.ok("POST", f"{at}/sandbox/call", json={"from": f"+{ANA}"})
        wait_for(lambda: len(receiver.requests) >= 2, timeout_s=20, what="two call webhooks")
    finally:
        receiver.stop()
    payloads = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    by_type = {p["type"]: p["data"] for p in payloads}
    assert set(by_type) == set(kinds)
    assert by_type["call.rejected"]["callId"] == by_type["call.received"]["callId"]
    assert by_type["call.rejected"]["message"] == policy["message"]
