"""What only a real phone can show. Skipped unless WHATSAPP_LIVE=1 (README, live checklist).

Environment: WHATSAPP_LIVE_PHONE (E.164 digits of the phone that links, for pairing by code),
WHATSAPP_LIVE_TO (E.164 digits of a second WhatsApp account that receives and replies),
WHATSAPP_LIVE_STORE (a directory that keeps the linked stores between runs; default ./data/live).
The tests print what to do on the phone and wait for it.
"""

import os

import pytest

from node_agent.engines.whatsapp.engine import build_text_message
from node_agent.protocol import MESSAGE_RECEIVED_PATH, MESSAGE_STATUS_PATH
from tests.node_agent.node_helpers import wait_until
from tests.node_agent.whatsapp_helpers import wait_status

pytestmark = pytest.mark.live

WINDOW_S = 170  # whatsmeow: 6 QR codes, 60 s + 5 × 20 s


@pytest.fixture
def live_runtime(make_wa_runtime):
    store = os.path.abspath(os.environ.get("WHATSAPP_LIVE_STORE", "data/live"))
    return make_wa_runtime(
        connect=True,
        session_storage_path=store,
        node_db_path=os.path.join(store, "node.sqlite3"),
    )


def resumed(runtime, backend):
    """Resume live-qr from its store (pair it first: test_live_pair_by_qr) until CONNECTED."""
    runtime.restore()
    wait_status(backend, "live-qr", "CONNECTED", timeout_s=60)


def asker(calls, task_class):
    """Return `ask(op, **params)`: one `task_class` operation of live-qr through `calls`
    (the runtime's groups, contacts or chats), its result; a refusal fails the test."""

    def ask(op, **params):
        answer = calls.call(task_class(session_id="live-qr", op=op, params=params))
        assert "error" not in answer, answer
        return answer["result"]

    return ask


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"set {name}")
    return value


def test_live_pair_by_qr(live_runtime, backend, capsys):
    live_runtime.session_start("live-qr", "u1", "whatsapp")
    qr = wait_status(backend, "live-qr", "QR_REQUIRED", timeout_s=30)
    with capsys.disabled():
        import qrcode

        code = qrcode.QRCode()
        code.add_data(qr["qrString"])
        code.print_ascii()
        print("Scan with WhatsApp > Linked devices > Link a device")
    report = wait_status(backend, "live-qr", "CONNECTED", timeout_s=WINDOW_S)
    assert report["phoneNumber"]
    assert report["jid"].endswith("@s.whatsapp.net")


def test_live_pair_by_code(live_runtime, backend, capsys):
    phone = env("WHATSAPP_LIVE_PHONE")
    live_runtime.session_start("live-code", "u1", "whatsapp", "pairing_code", phone)
    pairing = wait_status(backend, "live-code", "PAIRING", timeout_s=60)
    with capsys.disabled():
        print(f"On {phone}: Linked devices > Link with phone number > {pairing['pairingCode']}")
    assert wait_status(backend, "live-code", "CONNECTED", timeout_s=WINDOW_S)["phoneNumber"]


def test_live_send_receive_receipts_and_lid_reply(live_runtime, backend, capsys):
    to = env("WHATSAPP_LIVE_TO")
    resumed(live_runtime, backend)
    engine = live_runtime.engines["whatsapp"]
    assert engine.check_number("live-qr", to)
    state = live_runtime.message_send(
        "live-m1",
        "live-qr",
        {"to": to, "chatId": f"{to}@s.whatsapp.net", "type": "text", "text": "gateway live test"},
    )
    assert state == "sent"
    with capsys.disabled():
        print(f"On {to}: open the chat, read the message, then reply to it (swipe right).")
    wait_until(
        lambda: "read" in [b["status"] for b in backend.bodies(MESSAGE_STATUS_PATH)],
        timeout_s=300,
        message="read receipt",
    )
    incoming = wait_until(
        lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="live-qr"), timeout_s=300
    )[-1]["message"]
    # Reply into the chat the message came from, which may be an @lid chat.
    reply = {"chatId": incoming["chatId"], "type": "text", "text": "reply ok"}
    reply.update({"to": incoming["from"], "replyTo": incoming["id"]})
    assert build_text_message(reply, tuple(incoming["chatId"].split("@")))
    assert live_runtime.message_send("live-m2", "live-qr", reply) == "sent"


def test_live_group_create_promote_rename_invite_and_leave(live_runtime, backend, capsys):
    """A group with the second account: made, its info read back, the second account promoted,
    renamed, its invite link read and revoked, then left; each change reported as a group
    event of the session (the phone of the second account shows them too)."""
    from node_agent.protocol import GROUP_EVENT_PATH, GroupCall

    to = env("WHATSAPP_LIVE_TO")
    resumed(live_runtime, backend)
    group = asker(live_runtime.groups, GroupCall)

    member = f"{to}@s.whatsapp.net"
    made = group("create", subject="gateway live group", participants=[member])
    gid = made["id"]
    assert {p["phone"] for p in made["participants"]} >= {to}
    assert group("participants", group=gid, action="promote", participants=[member]) == [
        {"jid": member, "result": "promoted"}
    ]
    assert group("update", group=gid, changes={"subject": "gateway live group 2"})["subject"] == (
        "gateway live group 2"
    )
    first = group("invite_link", group=gid)
    assert group("invite_link", group=gid, reset=True)["code"] != first["code"]
    with capsys.disabled():
        print(f"\nThe second account ({to}) sees the group {gid!r}, renamed, as an admin.")
    group("leave", group=gid)
    events = wait_until(
        lambda: [
            b["event"]
            for b in backend.bodies(GROUP_EVENT_PATH, sessionId="live-qr")
            if b["group"] == gid
        ],
        timeout_s=60,
    )
    assert "joined" in events


def test_live_profiles_contacts_and_a_rename(live_runtime, backend, capsys):
    """The second account's profile and picture read through neonize, the account's own about
    text set and read back, blocking and unblocking it, and its rename seen on its next message
    as a contact.updated."""
    import base64

    from node_agent.protocol import SESSION_EVENT_PATH, ContactCall

    to = env("WHATSAPP_LIVE_TO")
    resumed(live_runtime, backend)
    contact = asker(live_runtime.contacts, ContactCall)

    member = f"{to}@s.whatsapp.net"
    profile = contact("profile", jid=member)
    assert profile["phone"] == to
    if profile["hasPicture"]:
        picture = contact("picture", jid=member)
        assert base64.b64decode(picture["base64"]).startswith(b"\xff\xd8")
    assert contact("me_update", changes={"about": "gateway live test"})["about"] == (
        "gateway live test"
    )
    contact("block", jid=member)
    assert member in contact("blocklist")["jids"]
    contact("unblock", jid=member)
    assert member not in contact("blocklist")["jids"]
    with capsys.disabled():
        print(f"\nOn {to}: write to the linked account, change your name (Settings > profile),")
        print("then write again.")
    renamed = wait_until(
        lambda: [
            b["data"]
            for b in backend.bodies(SESSION_EVENT_PATH, sessionId="live-qr")
            if "pushName" in b["data"]["changes"]
        ],
        timeout_s=300,
        message="a contact.updated rename",
    )
    assert renamed[-1]["phone"] == to


def test_live_presence_reads_reactions_and_a_declined_call(live_runtime, backend, capsys):
    """Seen, typing, then a reply; the second account reacts to it and calls, and the call is
    declined with a text."""
    from node_agent.protocol import SESSION_EVENT_PATH, ChatCall

    to = env("WHATSAPP_LIVE_TO")
    resumed(live_runtime, backend)
    chat = asker(live_runtime.chats, ChatCall)

    member = f"{to}@s.whatsapp.net"
    chat("presence", state="available")
    chat("subscribe", jid=member)
    chat("calls", reject=True, message="gateway live test: calls are declined")
    with capsys.disabled():
        print(f"\nOn {to}: write to the linked account, react to its answer with 👍, then call it.")
    wait_until(lambda: backend.bodies(MESSAGE_RECEIVED_PATH, sessionId="live-qr"), timeout_s=300)
    assert chat("read", chat=member)["read"] >= 1  # blue ticks on the phone
    chat("chat_presence", chat=member, state="typing")
    reply = {"to": to, "chatId": member, "type": "text", "text": "live reply"}
    assert live_runtime.message_send("live-m3", "live-qr", reply) == "sent"

    def seen(type_):
        return [
            b for b in backend.bodies(SESSION_EVENT_PATH, sessionId="live-qr") if b["type"] == type_
        ]

    wait_until(lambda: seen("message.reaction"), timeout_s=300, message="the reaction")
    wait_until(lambda: seen("call.rejected"), timeout_s=300, message="the declined call")
    assert seen("presence.update")  # WhatsApp told the second account's presence
