"""The WhatsApp engine's "typing…": neonize's `send_chat_presence` with its real JID and enum
types (neonize 0.5.2), on a stand-in client of a connected run (no network)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from node_agent.engines.base import TransientSendError
from node_agent.engines.whatsapp.ffi import FfiGate, load_neonize
from node_agent.engines.whatsapp.sending import Sender, chat_presence
from tests.node_agent.whatsapp_helpers import PEER


class PresenceClient:
    """Records `send_chat_presence` calls as neonize's client gets them."""

    def __init__(self):
        self.calls = []

    def send_chat_presence(self, jid, state, media):
        self.calls.append((jid, state, media))


class OneRun:
    """A registry holding one connected run."""

    def __init__(self, run):
        self.run = run

    def get(self, session_id):
        return self.run if session_id == "w1" else None


def _sender(make_config, state="connected"):
    client = PresenceClient()
    run = SimpleNamespace(
        state=state,
        connect_running=True,
        client=client,
        resolved={PEER: f"{PEER}@s.whatsapp.net"},  # is_on_whatsapp answered before
    )
    return Sender(make_config(), FfiGate(0), OneRun(run)), client


def test_typing_maps_to_composing_then_paused_in_the_chat(make_config):
    from neonize.proto.Neonize_pb2 import JID
    from neonize.utils.enum import ChatPresence, ChatPresenceMedia

    sender, client = _sender(make_config)
    payload = {"to": PEER, "chatId": f"{PEER}@s.whatsapp.net", "type": "text", "text": "hi"}
    sender.typing("w1", payload, True)
    sender.typing("w1", payload, False)

    (jid, on, text), (_, off, _) = client.calls
    assert isinstance(jid, JID)
    assert (jid.User, jid.Server) == (PEER, "s.whatsapp.net")
    assert on is ChatPresence.CHAT_PRESENCE_COMPOSING
    assert off is ChatPresence.CHAT_PRESENCE_PAUSED
    assert text is ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
    assert jid.SerializeToString()  # what neonize hands to the Go side


def test_typing_in_a_group_uses_its_jid_as_given(make_config):
    sender, client = _sender(make_config)
    sender.typing("w1", {"chatId": "120363000000000001@g.us", "type": "text", "text": "x"}, True)
    ((jid, _, _),) = client.calls
    assert (jid.User, jid.Server) == ("120363000000000001", "g.us")


def test_typing_needs_a_connected_run(make_config):
    sender, client = _sender(make_config, state="reconnecting")
    with pytest.raises(TransientSendError):
        sender.typing("w1", {"to": PEER, "chatId": f"{PEER}@s.whatsapp.net"}, True)
    assert client.calls == []


def test_the_mapping_reads_neonizes_own_enums():
    neonize = load_neonize()
    assert chat_presence(neonize, True)[0].value == 0  # whatsmeow's composing
    assert chat_presence(neonize, False)[0].value == 1  # paused
