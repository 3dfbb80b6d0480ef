"""Groups end to end on real processes: two tenants' sandbox sessions in one group, through the
API, the backend's RPC over the real broker, the node and the sandbox's shared network."""

from __future__ import annotations

from collections import Counter

import pytest
from standardwebhooks import Webhook

from tests.e2e.stack import Api, wait_for
from tests.sessions_app.webhooks.receiver import Receiver

pytestmark = pytest.mark.e2e
CONTACT = "6281200000300"
REFUSES_ADDS = "6281200000198"


def _phone(api: Api, session_id: str) -> str:
    return api.ok("GET", f"/api/v1/sessions/{session_id}/status")["phoneNumber"]


def test_two_sessions_share_a_group_through_every_step(gateway_stack):
    stack = gateway_stack
    alice = Api(stack.base_url, stack.create_api_key("alice-groups@example.com"))
    bob = Api(stack.base_url, stack.create_api_key("bob-groups@example.com"))
    receiver = Receiver().start()
    try:
        _steps(alice, bob, receiver)
    finally:
        receiver.stop()


GROUP_EVENTS = ["group.joined", "group.left", "group.participants", "group.updated"]


def _steps(alice: Api, bob: Api, receiver: Receiver) -> None:
    a, b = alice.link_sandbox("A"), bob.link_sandbox("B")
    hook = bob.ok(
        "POST", "/api/v1/webhooks", json={"url": receiver.url, "eventTypes": GROUP_EVENTS}
    )
    bob_jid = f"{_phone(bob, b)}@s.whatsapp.net"
    at_a, at_b = f"/api/v1/sessions/{a}/groups", f"/api/v1/sessions/{b}/groups"

    group = alice.ok("POST", at_a, json={"subject": "Team", "participants": [bob_jid, CONTACT]})
    gid = group["id"]
    assert group["size"] == 3
    results = alice.ok(
        "POST",
        f"{at_a}/{gid}/participants",
        json={"action": "add", "participants": [CONTACT, REFUSES_ADDS, "+1 555 000 0099"]},
    )
    assert [r["result"] for r in results] == [
        "already_participant",
        "invite_required",
        "not_on_whatsapp",
    ]
    # Bob may not rename a locked group until he is an admin.
    alice.ok("PATCH", f"{at_a}/{gid}", json={"locked": True})
    status, refused = bob.call("PATCH", f"{at_b}/{gid}", json={"subject": "Bob's"})
    assert (status, refused["error"]["code"]) == (403, "not_admin")
    promoted = alice.ok(
        "POST", f"{at_a}/{gid}/participants", json={"action": "promote", "participants": [bob_jid]}
    )
    assert promoted == [{"jid": bob_jid, "result": "promoted"}]
    assert bob.ok("PATCH", f"{at_b}/{gid}", json={"subject": "Team 2"})["subject"] == "Team 2"

    sent = alice.ok(
        "POST", "/api/v1/messages", json={"sessionId": a, "to": gid, "text": "Halo tim"}
    )
    assert sent["chatId"] == gid

    listed = bob.ok("GET", at_b, params={"refresh": "true"})
    assert [g["subject"] for g in listed["groups"]] == ["Team 2"]
    info = alice.ok("GET", f"{at_a}/{gid}")
    assert {p["jid"]: p["admin"] for p in info["participants"]}[bob_jid] is True

    invite = alice.ok("GET", f"{at_a}/{gid}/invite")
    assert bob.ok("GET", f"{at_b}/invites/{invite['code']}")["subject"] == "Team 2"
    assert bob.ok("POST", f"{at_b}/{gid}/leave") == {}
    assert bob.ok("GET", at_b)["total"] == 0  # the node's copy forgot it on leaving
    assert bob.ok("POST", f"{at_b}/join", json={"invite": invite["link"]}) == {"id": gid}
    status, gone = bob.call("GET", f"/api/v1/sessions/{a}/groups/{gid}")
    assert (status, gone["error"]["code"]) == (404, "session_not_found")  # Alice's session

    # Every step Bob's session saw arrived as a signed webhook event, once.
    alice_jid = f"{_phone(alice, a)}@s.whatsapp.net"
    expected = Counter(
        {
            ("group.joined", alice_jid): 1,  # created with him in it
            ("group.updated", alice_jid): 1,  # locked
            ("group.participants", alice_jid): 1,  # promoted
            ("group.updated", bob_jid): 1,  # renamed
            ("group.left", bob_jid): 1,
            ("group.joined", bob_jid): 1,  # by the invite
        }
    )
    wait_for(lambda: len(receiver.requests) >= sum(expected.values()), timeout_s=30, what="events")
    payloads = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    assert Counter((p["type"], p["data"]["by"]) for p in payloads) == expected
    assert {p["data"]["group"] for p in payloads} == {gid}
    assert {p["sessionId"] for p in payloads} == {b}
