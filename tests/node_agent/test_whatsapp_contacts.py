"""The WhatsApp engine's contact and profile calls through neonize 0.5.2's own client, offline:
what each sends, its answers in node_agent/contacts.py shapes, whatsmeow's errors as CallRefused
codes, sessions not connected, the picture download and the engine's delegation."""

from __future__ import annotations

import io
from functools import partial
from types import SimpleNamespace
from unittest.mock import Mock, call

import pytest
import requests
from neonize.exc import NeonizeError
from neonize.proto import Neonize_pb2 as pb

from node_agent.engines.base import CallRefused
from node_agent.engines.whatsapp import contacts as wa_contacts
from node_agent.engines.whatsapp.contacts import ContactCalls
from node_agent.engines.whatsapp.ffi import FfiGate
from tests.node_agent.whatsapp_group_helpers import (
    PN,
    THIRD,
    FakeGo,
    OneRun,
    empty,
    neonize_client,
    sent_jid,
    sent_jids,
)
from tests.node_agent.whatsapp_helpers import PEER, PHONE, jid

PEER_LID = "55443322"
PEER_JID = f"{PEER}@{PN}"
JPEG = b"\xff\xd8\xff\xe0picture"
URL = "https://pps.whatsapp.net/v/t61.24694-24/1_2_n.jpg?oh=token&oe=65"


def info(full="", first="", push="", business="", found=True):
    return pb.ContactInfo(
        Found=found, FirstName=first, FullName=full, PushName=push, BusinessName=business,
        RedactedPhone="",
    )  # fmt: skip


STORE_DEFAULTS = {  # what the store answers for a JID it does not know (sqlstore)
    "GetLIDFromPN": pb.GetJIDFromStoreReturnFunction(Jid=empty()),
    "GetPNFromLID": pb.GetJIDFromStoreReturnFunction(Jid=empty()),
    "GetContact": pb.ContactsGetContactReturnFunction(ContactInfo=info(found=False)),
}


class StoreGo(FakeGo):
    """FakeGo whose store exports answer per JID asked: `store[(export, "user@server")]`, else
    `answers[export]`, else what the store answers for a JID it does not know."""

    def __init__(self):
        super().__init__()
        self.store = {}

    def __getattr__(self, name):
        if name not in STORE_DEFAULTS:
            return super().__getattr__(name)

        def by_jid(*args):
            self.calls.append((name, args))
            asked = pb.JID.FromString(args[1])
            key = (name, f"{asked.User}@{asked.Server}")
            value = self.store.get(key) or self.answers.get(name) or STORE_DEFAULTS[name]
            return value.encode() if isinstance(value, str) else value.SerializeToString()

        return by_jid

    def pair(self, phone, lid):
        found = pb.GetJIDFromStoreReturnFunction
        self.store["GetLIDFromPN", f"{phone}@{PN}"] = found(Jid=jid(lid, "lid"))
        self.store["GetPNFromLID", f"{lid}@lid"] = found(Jid=jid(phone))

    def client(self, tmp_path):
        client = neonize_client(tmp_path, self)
        client.contact._ContactStore__client = self  # neonize's contact store keeps its own
        return client


def user_info(user, server=PN, status="", picture="", verified=None, devices=(0,)):
    found = pb.UserInfo(Status=status, PictureID=picture)
    found.Devices.extend(jid(user, server, device) for device in devices)
    if verified:
        found.VerifiedName.Details.verifiedName = verified
    single = pb.GetUserInfoSingleReturnFunction(JID=jid(user, server), UserInfo=found)
    return pb.GetUserInfoReturnFunction(UsersInfo=[single])


def me(user=PHONE, lid="99887766", push="Shop", business=""):
    return pb.Device(
        JID=jid(user, device=7), LID=jid(lid, "lid", 7) if lid else empty(), Platform="android",
        BussinessName=business, PushName=push, Initialized=True,
    )  # fmt: skip


@pytest.fixture
def wa(make_config, tmp_path):
    go, downloads = StoreGo(), []
    run = SimpleNamespace(state="connected", connect_running=True, client=go.client(tmp_path))
    download = lambda url: downloads.append(url) or JPEG  # noqa: E731
    calls = ContactCalls(make_config(), FfiGate(0), OneRun(run), download=download)
    return SimpleNamespace(calls=calls, go=go, run=run, downloads=downloads)


def test_contacts_come_from_the_store_one_per_person(wa):
    wa.go.pair(PEER, PEER_LID)
    entries = [
        (jid(PEER_LID, "lid"), info(push="Budi")),  # the same person as PEER, by LID
        (jid("status", "broadcast"), info(push="x")),  # not a person: left out
        (jid(THIRD), info(first="Sari", push="sari")),
        (jid(PEER), info(full="Budi Santoso", first="Budi")),
        (jid("11223344", "lid"), info(business="Toko Maju")),
    ]
    wa.go.answers["GetAllContacts"] = pb.ContactsGetAllContactsReturnFunction(
        Contact=[pb.Contact(JID=j, Info=i) for j, i in entries]
    )

    listed = wa.calls.contacts("w1")
    assert [list(person) for person in listed] == [["jid", "phone", "lid", "name", "pushName"]] * 3
    assert [tuple(person.values()) for person in listed] == [
        ("11223344@lid", None, "11223344@lid", None, "Toko Maju"),
        (PEER_JID, PEER, f"{PEER_LID}@lid", "Budi Santoso", "Budi"),
        (f"{THIRD}@{PN}", THIRD, None, "Sari", "sari"),
    ]
    assert set(wa.go.names()) == {"GetAllContacts", "GetLIDFromPN", "GetPNFromLID"}  # store only


def test_lid_lookup_reads_either_half_from_the_store(wa):
    for odd in ("120363041234567890@g.us", "", "abc@lid", "1@newsletter"):
        with pytest.raises(CallRefused, match="contact_not_found"):
            wa.calls.lid_lookup("w1", odd)
    assert wa.go.calls == []  # refused before any call

    wa.go.pair(PEER, PEER_LID)
    lid = f"{PEER_LID}@lid"
    assert wa.calls.lid_lookup("w1", f"{PEER}:3@{PN}") == {"phone": PEER, "lid": lid}
    assert wa.calls.lid_lookup("w1", "+62 812-0000-0200") == {"phone": PEER, "lid": lid}
    assert wa.calls.lid_lookup("w1", f"{PEER_LID}:2@lid") == {"phone": PEER, "lid": lid}
    assert wa.calls.lid_lookup("w1", f"{THIRD}@{PN}") == {"phone": THIRD, "lid": None}
    assert wa.calls.lid_lookup("w1", "77665544@lid") == {"phone": None, "lid": "77665544@lid"}
    assert sent_jid(wa.go.calls[0][1]) == (PEER, PN, 0)  # the device part is never asked


def test_contact_profile_maps_user_info_and_the_store(wa):
    wa.go.answers["GetUserInfo"] = user_info(PEER, status="Busy", picture="17", devices=(0, 3))
    wa.go.pair(PEER, PEER_LID)  # as whatsmeow stores it from the usync answer
    wa.go.store["GetContact", f"{PEER_LID}@lid"] = pb.ContactsGetContactReturnFunction(
        ContactInfo=info(push="Budi", business="Toko Budi")  # learnt from a message by LID
    )

    assert wa.calls.profile("w1", f"{PEER}:3@{PN}") == {
        "jid": PEER_JID, "phone": PEER, "lid": f"{PEER_LID}@lid", "pushName": "Budi",
        "about": "Busy", "business": True, "verifiedName": "Toko Budi", "hasPicture": True,
    }  # fmt: skip
    assert wa.go.names()[:2] == ["GetUserInfo", "GetLIDFromPN"]  # the pair after the usync
    assert sent_jids(wa.go.args("GetUserInfo"), index=1) == [(PEER, PN, 0)]


def test_a_plain_or_hidden_profile_and_one_whatsapp_does_not_know(wa):
    wa.go.answers["GetUserInfo"] = user_info(PEER_LID, "lid")  # about and picture hidden
    assert wa.calls.profile("w1", f"{PEER_LID}@lid") == {
        "jid": f"{PEER_LID}@lid", "phone": None, "lid": f"{PEER_LID}@lid", "pushName": None,
        "about": None, "business": False, "verifiedName": None, "hasPicture": False,
    }  # fmt: skip

    for unknown in (user_info(THIRD), user_info(PEER, devices=())):  # another JID; no device
        wa.go.answers["GetUserInfo"] = unknown
        with pytest.raises(CallRefused, match="contact_not_found"):
            wa.calls.profile("w1", PEER_JID)


def test_own_profile_from_get_me_and_user_info(wa):
    wa.go.answers["GetMe"] = me()
    wa.go.answers["GetUserInfo"] = user_info(
        PHONE, status="Open", picture="17", verified="Shop Ltd"
    )

    assert wa.calls.own_profile("w1") == {
        "jid": f"{PHONE}@{PN}", "phone": PHONE, "lid": "99887766@lid", "pushName": "Shop",
        "about": "Open", "business": True, "verifiedName": "Shop Ltd", "hasPicture": True,
    }  # fmt: skip
    assert sent_jids(wa.go.args("GetUserInfo"), index=1) == [(PHONE, PN, 0)]  # no device

    wa.go.answers["GetMe"] = me(lid="", business="Shop")
    wa.go.answers["GetUserInfo"] = pb.GetUserInfoReturnFunction(UsersInfo=[])
    own = wa.calls.own_profile("w1")
    keys = ("lid", "about", "hasPicture", "business", "verifiedName")
    assert [own[k] for k in keys] == [None, None, False, True, "Shop"]

    wa.go.answers["GetMe"] = me(user="")
    for own_call in (lambda: wa.calls.own_profile("w1"), lambda: wa.calls.picture("w1", "")):
        with pytest.raises(CallRefused, match="session_not_connected"):  # no device JID yet
            own_call()
    assert wa.go.names()[-2:] == ["GetMe", "GetMe"]


def test_pictures_are_downloaded_from_whatsapps_url(wa):
    picture = pb.ProfilePictureInfo(URL=URL, ID="17", Type="image", DirectPath="/v/t61", Hash=b"")
    wa.go.answers["GetProfilePicture"] = pb.GetProfilePictureReturnFunction(Picture=picture)
    wa.go.answers["GetMe"] = me()

    assert wa.calls.picture("w1", PEER_JID) == JPEG
    assert wa.calls.picture("w1", "") == JPEG  # the account's own
    assert wa.downloads == [URL, URL]
    asked = [args for name, args in wa.go.calls if name == "GetProfilePicture"]
    assert [sent_jid(args) for args in asked] == [(PEER, PN, 0), (PHONE, PN, 0)]
    assert pb.GetProfilePictureParams.FromString(asked[0][3]).Preview is False  # not a thumbnail

    none = [pb.GetProfilePictureReturnFunction(Error=t) for t in wa_contacts.NO_PICTURE_TEXTS]
    for nothing in [*none, pb.GetProfilePictureReturnFunction()]:  # hidden, unset, whatsmeow's nil
        wa.go.answers["GetProfilePicture"] = nothing
        assert wa.calls.picture("w1", PEER_JID) is None
    assert len(wa.downloads) == 2


def test_block_unblock_and_the_blocklist(wa):
    wa.calls.block("w1", PEER_JID, True)
    wa.calls.block("w1", f"{PEER_LID}@lid", False)
    changes = [(sent_jid(args), args[3]) for name, args in wa.go.calls]
    assert changes == [((PEER, PN, 0), b"block"), ((PEER_LID, "lid", 0), b"unblock")]

    listed = [jid(PEER_LID, "lid"), jid(THIRD), jid(PEER_LID, "lid", 2), empty()]
    blocklist = pb.Blocklist(DHash="1700", JIDs=listed)
    wa.go.answers["GetBlocklist"] = pb.GetBlocklistReturnFunction(Blocklist=blocklist)
    assert wa.calls.blocklist("w1") == [f"{PEER_LID}@lid", f"{THIRD}@{PN}"]
    wa.go.answers["GetBlocklist"] = pb.GetBlocklistReturnFunction()  # whatsmeow's nil list
    assert wa.calls.blocklist("w1") == []


def test_profile_update_applies_changes_in_order_and_refuses_what_neonize_cannot(wa):
    wa.go.answers["SetProfilePhoto"] = pb.SetGroupPhotoReturnFunction(PictureID="1700")
    wa.calls.own_profile_update("w1", {"picture": JPEG, "about": "Open", "pushName": "Shop"})

    assert wa.go.names() == ["SetPushName", "SetStatusMessage", "SetProfilePhoto"]
    assert (wa.go.args("SetPushName")[1], wa.go.args("SetStatusMessage")[1]) == (b"Shop", b"Open")
    assert wa.go.args("SetProfilePhoto")[1:] == (JPEG, len(JPEG))

    with pytest.raises(CallRefused, match="contacts_unsupported"):  # before the push name changes
        wa.calls.own_profile_update("w1", {"pushName": "New", "picture": None})
    with pytest.raises(ValueError, match="bytes"):  # a str would be a path or URL to neonize
        wa.calls.own_profile_update("w1", {"pushName": "New", "picture": "https://x/y.jpg"})
    assert len(wa.go.calls) == 3

    wa.go.answers["SetStatusMessage"] = "info query returned status 429: rate-overlimit"
    with pytest.raises(CallRefused, match="whatsapp_error"):
        wa.calls.own_profile_update("w1", {"about": "A", "pushName": "B", "picture": JPEG})
    assert wa.go.names()[3:] == ["SetPushName", "SetStatusMessage"]  # the picture never tried


# Each call and the export it ends in; how an export carries an error (else as a C string).
CALLS = {
    "contacts": (lambda c, s: c.contacts(s), "GetAllContacts"),
    "profile": (lambda c, s: c.profile(s, PEER_JID), "GetUserInfo"),
    "picture": (lambda c, s: c.picture(s, PEER_JID), "GetProfilePicture"),
    "block": (lambda c, s: c.block(s, PEER_JID, True), "UpdateBlocklist"),
    "blocklist": (lambda c, s: c.blocklist(s), "GetBlocklist"),
    "own_profile": (lambda c, s: c.own_profile(s), "GetMe"),
    "push_name": (lambda c, s: c.own_profile_update(s, {"pushName": "N"}), "SetPushName"),
    "about": (lambda c, s: c.own_profile_update(s, {"about": "A"}), "SetStatusMessage"),
    "photo": (lambda c, s: c.own_profile_update(s, {"picture": JPEG}), "SetProfilePhoto"),
    "lid_lookup": (lambda c, s: c.lid_lookup(s, PEER_JID), "GetLIDFromPN"),
}
CARRIERS = {
    "GetAllContacts": pb.ContactsGetAllContactsReturnFunction,
    "GetUserInfo": pb.GetUserInfoReturnFunction,
    "GetProfilePicture": pb.GetProfilePictureReturnFunction,
    "UpdateBlocklist": pb.GetBlocklistReturnFunction,
    "GetBlocklist": pb.GetBlocklistReturnFunction,
    "SetProfilePhoto": partial(pb.SetGroupPhotoReturnFunction, PictureID=""),
    "GetLIDFromPN": pb.GetJIDFromStoreReturnFunction,
}


@pytest.mark.parametrize(
    ("call", "text", "code"),
    [
        ("profile", "info query returned status 404: item-not-found", "contact_not_found"),
        ("profile", "websocket not connected", "session_not_connected"),
        ("profile", "failed to send usync query: info query timed out", "whatsapp_error"),
        ("picture", "websocket disconnected before info query returned response",
         "session_not_connected"),
        ("picture", "info query returned status 400: bad-request", "whatsapp_error"),
        ("block", f"no LID found for {PEER_JID} from server", "contact_not_found"),
        ("block", f"failed to get user info for {PEER}@{PN} to fill LID cache: client is nil",
         "session_not_connected"),
        ("blocklist", "missing <list> element in response to blocklist query", "whatsapp_error"),
        ("blocklist", "the store doesn't contain a device JID", "session_not_connected"),
        ("push_name", "client not found", "session_not_connected"),
        ("push_name", "server returned error updating app state: <collection/>", "whatsapp_error"),
        ("about", "info query returned status 429: rate-overlimit", "whatsapp_error"),
        ("photo", "the given data is not a valid image", "whatsapp_error"),
        ("contacts", "sql: database is closed", "whatsapp_error"),
        ("lid_lookup", "sql: database is closed", "whatsapp_error"),
    ],
)  # fmt: skip
def test_whatsmeows_error_texts_map_to_codes(wa, call, text, code):
    run_call, export = CALLS[call]
    wa.go.answers[export] = CARRIERS[export](Error=text) if export in CARRIERS else text

    with pytest.raises(CallRefused) as caught:
        run_call(wa.calls, "w1")

    assert (caught.value.code, caught.value.message) == (code, text)  # WhatsApp's words kept
    assert isinstance(caught.value.__cause__, NeonizeError)  # raised by neonize's own wrapper


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(
    ("state", "running", "session"),
    [("reconnecting", True, "w1"), ("connected", False, "w1"), ("connected", True, "w2")],
)
def test_a_session_not_connected_is_refused_before_any_call(wa, call, state, running, session):
    wa.run.state, wa.run.connect_running = state, running
    if state == "reconnecting" and call in ("contacts", "lid_lookup"):
        CALLS[call][0](wa.calls, session)  # the store is read while the socket reconnects
        return
    with pytest.raises(CallRefused, match="session_not_connected"):
        CALLS[call][0](wa.calls, session)
    assert wa.go.calls == []


def answer(status=200, body=JPEG):
    """A streamed answer of the CDN, as requests builds it."""
    response = requests.Response()
    response.status_code, response.raw = status, io.BytesIO(body)
    return response


@pytest.fixture
def cdn(monkeypatch):
    """requests.get of picture_download: a Mock answering a JPEG each time (its side_effect)."""
    get = Mock(side_effect=lambda url, **kwargs: answer())
    monkeypatch.setattr(wa_contacts.requests, "get", get)
    return get


def test_picture_download_reads_a_capped_jpeg_from_the_cdn(cdn):
    proxy = "http://127.0.0.1:3128"
    assert wa_contacts.picture_download(URL, proxy_url=proxy) == JPEG
    asked = {"timeout": (5.0, 20.0), "stream": True, "allow_redirects": False}
    assert cdn.call_args == call(URL, **asked, proxies={"https": proxy})  # no redirects followed
    assert wa_contacts.picture_download(URL) == JPEG
    assert cdn.call_args == call(URL, **asked, proxies=None)


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("http://pps.whatsapp.net/v/p.jpg", None),  # not https
        ("https://pps.whatsapp.net.example.com/p.jpg", None),  # off the CDN
        ("https://evilwhatsapp.net/p.jpg", None),
        (URL, answer(status=302)),  # a redirect is not followed
        (URL, answer(status=404)),  # an expired URL
        (URL, answer(body=JPEG + b"x" * wa_contacts.PICTURE_MAX_BYTES)),
        (URL, answer(body=b"<html>")),
        (URL, requests.ConnectTimeout("slow")),
    ],
)
def test_picture_download_refuses_what_is_not_a_cdn_jpeg(cdn, url, answer):
    cdn.side_effect = answer if isinstance(answer, Exception) else lambda url, **kwargs: answer
    with pytest.raises(CallRefused) as caught:
        wa_contacts.picture_download(url)
    assert caught.value.code == "whatsapp_error"
    assert "token" not in caught.value.message  # the URL's access token is never repeated
    assert cdn.call_count == (0 if answer is None else 1)


def test_the_engine_delegates_every_contact_method(make_config, tmp_path):
    from node_agent.engines.whatsapp import WhatsAppEngine

    engine = WhatsAppEngine(make_config(), lambda *args: None, connect=False)
    methods = [
        ("contacts", ()), ("contact_profile", (PEER_JID,)), ("contact_picture", (PEER_JID,)),
        ("contact_block", (PEER_JID, True)), ("blocklist", ()), ("own_profile", ()),
        ("own_profile_update", ({"about": "A"},)), ("lid_lookup", (PEER_JID,)),
    ]  # fmt: skip
    try:
        for name, args in methods:
            with pytest.raises(CallRefused, match="session_not_connected"):  # not ..._unsupported
                getattr(engine, name)("w1", *args)

        go = StoreGo()
        go.pair(PEER, PEER_LID)
        run = engine._registry.add("w1", "qr", None, None)
        run.client, run.state, run.connect_running = go.client(tmp_path), "connected", True
        assert engine.lid_lookup("w1", PEER) == {"phone": PEER, "lid": f"{PEER_LID}@lid"}
        engine.contact_block("w1", PEER_JID, False)
        engine.own_profile_update("w1", {"about": "A"})
        assert go.names() == ["GetLIDFromPN", "UpdateBlocklist", "SetStatusMessage"]
    finally:
        engine.shutdown()
