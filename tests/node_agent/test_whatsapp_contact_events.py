"""Contact changes as neonize 0.5.2 hands them over: a person's PictureEv (its real protobuf) and
the push name on incoming MessageEvs, fed through a client's own event entry point and asserted
at the fake backend as contact.updated session events."""

from neonize.events import PictureEv
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

from node_agent.contact_events import CONTACT_UPDATED
from node_agent.engines.whatsapp.contact_events import picture_changed
from node_agent.protocol import GROUP_EVENT_PATH, SESSION_EVENT_PATH
from tests.node_agent.node_helpers import outbox_drained, wait_until
from tests.node_agent.test_whatsapp_events import incoming_event
from tests.node_agent.whatsapp_helpers import PEER, connect_session, feed, jid, settle

TS = 1_700_000_000
PEER_JID = f"{PEER}@s.whatsapp.net"
PEER_LID = "4455667788@lid"


def picture(user=PEER, server="s.whatsapp.net", remove=False, ts=TS):
    event = PictureEv(JID=jid(user, server), Author=jid(user, server), Timestamp=ts, Remove=remove)
    return PictureEv.FromString(event.SerializeToString())  # as the wire carries it


def named(name, msg_id, sender=None, **source):
    event = incoming_event(Message(conversation="hi"), sender, msg_id, **source)
    event.Info.Pushname = name
    return event


def contact_events(runtime, backend, count):
    wait_until(
        lambda: len(backend.bodies(SESSION_EVENT_PATH, sessionId="w1")) >= count,
        message=f"{count} session events",
    )
    settle(runtime)
    outbox_drained(runtime)
    return backend.bodies(SESSION_EVENT_PATH, sessionId="w1")


def test_a_persons_picture_is_a_contact_change_and_a_groups_is_not():
    assert picture_changed(picture(user="120363041234567890", server="g.us")) is None
    set_ = picture_changed(picture())
    removed = picture_changed(picture(remove=True))
    assert set_ is not None
    assert removed is not None
    assert {k: set_[k] for k in ("contact", "phone", "lid", "changes")} == {
        "contact": PEER_JID,
        "phone": PEER,
        "lid": None,
        "changes": {"picture": True},
    }
    assert removed["changes"] == {"picture": False}
    assert picture_changed(picture(user="4455667788", server="lid"))["lid"] == PEER_LID
    # one notification repeated keeps its id; another is another change
    assert picture_changed(picture())["event_id"] == set_["event_id"]
    assert picture_changed(picture(ts=TS + 1))["event_id"] != set_["event_id"]
    assert removed["event_id"] != set_["event_id"]


def test_pictures_and_renames_reach_the_backend_as_contact_updated(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, picture())
    feed(client, named("Ana", "3EB0AA01"))  # first sight: recorded, nothing changed
    feed(client, named("Ana", "3EB0AA02"))
    feed(client, named("Ana Maria", "3EB0AA03"))
    # the same person written from their LID (with the phone as SenderAlt): one name for both
    lid_source = {"sender": jid("4455667788", "lid"), "SenderAlt": jid(PEER)}
    feed(client, named("Ana Maria", "3EB0AA04", **lid_source))
    feed(client, named("Ana M.", "3EB0AA05", **lid_source))

    bodies = contact_events(runtime, backend, 3)
    assert [b["type"] for b in bodies] == [CONTACT_UPDATED] * 3
    assert [(b["data"]["contact"], b["data"]["changes"]) for b in bodies] == [
        (PEER_JID, {"picture": True}),
        (PEER_JID, {"pushName": "Ana Maria"}),
        (PEER_LID, {"pushName": "Ana M."}),
    ]
    assert (bodies[2]["data"]["phone"], bodies[2]["data"]["lid"]) == (PEER, PEER_LID)
    assert len({b["eventId"] for b in bodies}) == 3
    assert backend.bodies(GROUP_EVENT_PATH, sessionId="w1") == []


def test_a_rename_is_seen_after_the_node_restarts(make_wa_runtime, backend):
    runtime = make_wa_runtime()
    client = connect_session(runtime, backend)
    feed(client, named("Ana", "3EB0AA01"))
    settle(runtime)
    runtime.shutdown()

    runtime = make_wa_runtime()  # the same node database: it resumes the session
    client = wait_until(lambda: runtime.engines["whatsapp"].client_of("w1"), message="resumed")
    feed(client, named("Ana B", "3EB0AA02"))
    [body] = contact_events(runtime, backend, 1)
    assert body["data"]["changes"] == {"pushName": "Ana B"}
