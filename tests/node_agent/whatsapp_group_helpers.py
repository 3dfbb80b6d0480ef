"""Helpers of the WhatsApp engine's group tests (test_whatsapp_groups.py,
test_whatsapp_group_errors.py): neonize 0.5.2's own client, offline.

A never-connected `NewClient` gets FakeGo for its Go library: it records each export's arguments
and answers what goneonize/main.go returns (a protobuf, or an error text), so neonize's own
wrappers build the requests, parse the answers and raise its exceptions. Answers are neonize's
real types with every field its Go encoder sets (strictly serialized: none may be missing).
"""

from __future__ import annotations

from types import SimpleNamespace

from neonize.proto import Neonize_pb2 as pb

from node_agent.engines.whatsapp.ffi import FfiGate
from node_agent.engines.whatsapp.groups import GroupCalls
from tests.node_agent.whatsapp_helpers import PEER, PHONE, jid

GROUP_USER = "120363041234567890"
GROUP = f"{GROUP_USER}@g.us"
THIRD = "6281200000300"
CREATED_S = 1_700_000_000  # 2023-11-14T22:13:20Z, exact in a float32 (a multiple of 128)
CREATED_AT = "2023-11-14T22:13:20.000000Z"
CODE = "AbCdEfGhIjKlMnOp"
PN = "s.whatsapp.net"
# whatsmeow's error texts (errors.go; IQError's "info query returned status <code>: <text>")
NOT_ADMIN = "info query returned status 401: not-authorized"
NO_LINK_RIGHTS = "you don't have the permission to get the group's invite link"
DROPPED = "websocket disconnected before info query returned response"
OLD_TOPIC = "failed to get old group info to update topic: that group does not exist"
FORBIDDEN = "info query returned status 403: forbidden"
NOT_FOUND = "info query returned status 404: item-not-found"


def empty():
    """An absent JID as neonize's encoder sends it (EncodeJidProto of types.EmptyJID)."""
    return pb.JID(User="", Server="", Device=0, RawAgent=0, Integrator=0, IsEmpty=True)


def member(user, server=PN, *, lid=None, phone=None, admin=False, sup=False, error=0, add=None):
    return pb.GroupParticipant(
        JID=jid(user, server),
        LID=jid(lid, "lid") if lid else empty(),
        PhoneNumber=jid(phone, PN) if phone else empty(),
        IsAdmin=admin or sup,
        IsSuperAdmin=sup,
        DisplayName="",
        Error=error,
        AddRequest=add,
    )


def group_proto(user=GROUP_USER, name="Shop crew", participants=None, **fields):
    topic = dict(
        Topic="Orders and stock", TopicID="3EB0T", TopicSetAt=CREATED_S, TopicDeleted=False
    )
    values = {
        "JID": jid(user, "g.us"),
        "OwnerJID": jid(PHONE),
        "OwnerPN": jid(PHONE),
        "GroupName": pb.GroupName(Name=name, NameSetAt=CREATED_S, NameSetBy=jid(PHONE)),
        "GroupTopic": pb.GroupTopic(**topic, TopicSetBy=jid(PHONE)),
        "GroupLocked": pb.GroupLocked(isLocked=False),
        "GroupAnnounce": pb.GroupAnnounce(IsAnnounce=True, AnnounceVersionID="a1"),
        "GroupEphemeral": pb.GroupEphemeral(IsEphemeral=False, DisappearingTimer=0),
        "GroupIncognito": pb.GroupIncognito(IsIncognito=False),
        "GroupParent": pb.GroupParent(IsParent=False, DefaultMembershipApprovalMode=""),
        "GroupLinkedParent": pb.GroupLinkedParent(LinkedParentJID=empty()),
        "GroupIsDefaultSub": pb.GroupIsDefaultSub(IsDefaultSubGroup=False),
        "GroupCreated": float(CREATED_S),
        "ParticipantVersionID": "p1",
        "Participants": [
            member(PHONE, lid="99887766", phone=PHONE, sup=True),
            member("55443322", "lid", lid="55443322", phone=PEER, admin=True),
            member(THIRD, phone=THIRD),
        ]
        if participants is None
        else participants,
    }
    return pb.GroupInfo(**{**values, **fields})


class FakeGo:
    """Stands in for neonize's Go library: records every export called, answers what the Go side
    would (a protobuf serialized, or the error text of an export returning a C string)."""

    def __init__(self):
        self.calls = []
        self.answers = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def export(*args):
            self.calls.append((name, args))
            if name == "GenerateMessageID":
                return b"3EB0CREATEKEY"
            value = self.answers.get(name, "")
            return value.encode() if isinstance(value, str) else value.SerializeToString()

        return export

    def names(self):
        return [name for name, _ in self.calls]

    def args(self, name):
        [args] = [args for called, args in self.calls if called == name]
        return args


class OneRun:
    def __init__(self, run):
        self.run = run

    def get(self, session_id):
        return self.run if session_id == "w1" else None


def neonize_client(tmp_path, go):
    from neonize.client import NewClient

    client = NewClient(str(tmp_path / "unused.db"), uuid="w1")  # never connected: no Go state
    client._stop_finalizer.detach()
    client._NewClient__client = go
    return client


def group_calls(make_config, tmp_path):
    """(GroupCalls on one connected run, its FakeGo, the run): the tests' `wa` fixture."""
    go = FakeGo()
    run = SimpleNamespace(
        state="connected", connect_running=True, client=neonize_client(tmp_path, go)
    )
    return GroupCalls(make_config(), FfiGate(0), OneRun(run)), go, run


def sent_jid(args, index=1):
    found = pb.JID.FromString(args[index])
    return (found.User, found.Server, found.Device)


def triples(jids):
    return [(j.User, j.Server, j.Device) for j in jids]


def sent_jids(args, index=3):
    return triples(pb.JIDArray.FromString(args[index]).JIDS)


def people(info):
    keys = ("jid", "phone", "lid", "admin", "superAdmin")
    return [tuple(p[key] for key in keys) for p in info["participants"]]
