"""The WhatsApp engine's message builders, with real neonize protobuf types (no network)."""

from node_agent.engines.whatsapp import builders

TARGET = ("6281200000001", "s.whatsapp.net")


def test_location_contact_reaction_are_real_protobufs():
    location = builders.build_message(
        None,
        {"type": "location", "location": {"latitude": -6.17, "longitude": 106.8, "name": "Monas"}},
        TARGET,
        None,
    )
    assert location.locationMessage.degreesLatitude == -6.17
    assert location.locationMessage.name == "Monas"
    contact = builders.build_message(
        None,
        {"type": "contact", "contact": {"name": "Budi", "vcard": "BEGIN:VCARD\nEND:VCARD"}},
        TARGET,
        None,
    )
    assert contact.contactMessage.displayName == "Budi"
    reaction = builders.build_message(
        None,
        {"type": "reaction", "reaction": {"messageId": "3EB0AA", "emoji": "👍", "fromMe": True}},
        TARGET,
        None,
    )
    assert reaction.reactionMessage.text == "👍"
    assert reaction.reactionMessage.key.ID == "3EB0AA"
    assert reaction.reactionMessage.key.fromMe is True
    assert reaction.reactionMessage.key.remoteJID == "6281200000001@s.whatsapp.net"
    for message in (location, contact, reaction):
        assert message.SerializePartialToString()


def test_text_with_reply_and_mentions_keeps_unicode():
    text = "Halo 👋 e\u0301 עברית"
    message = builders.build_message(
        None,
        {"type": "text", "text": text, "replyTo": "3EB0", "mentions": ["6281200000002"]},
        TARGET,
        None,
    )
    sub = message.extendedTextMessage
    assert sub.text == text
    assert sub.contextInfo.stanzaID == "3EB0"
    assert list(sub.contextInfo.mentionedJID) == ["6281200000002@s.whatsapp.net"]


class FakeClient:
    """Stands in for neonize's builders (they upload to WhatsApp); returns real Messages."""

    def __init__(self):
        self.calls = []

    def _build(self, name, field, data, **kwargs):
        from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

        self.calls.append((name, data, kwargs))
        message = Message()
        getattr(message, field).SetInParent()
        return message

    def build_image_message(self, data, **kw):
        return self._build("image", "imageMessage", data, **kw)

    def build_video_message(self, data, **kw):
        return self._build("video", "videoMessage", data, **kw)

    def build_audio_message(self, data, **kw):
        return self._build("audio", "audioMessage", data, **kw)

    def build_document_message(self, data, **kw):
        return self._build("document", "documentMessage", data, **kw)

    def build_sticker_message(self, data, **kw):
        return self._build("sticker", "stickerMessage", data, **kw)


def test_media_types_pass_bytes_and_options_to_neonize_builders():
    client = FakeClient()
    media = {"id": "med_1", "mimetype": "application/pdf", "filename": "Faktur März.pdf"}
    builders.build_message(
        client, {"type": "document", "media": media, "text": "cap"}, TARGET, b"%PDF"
    )
    builders.build_message(client, {"type": "voice", "media": media}, TARGET, b"OggS")
    builders.build_message(client, {"type": "sticker", "media": media}, TARGET, b"RIFF")
    image = builders.build_message(
        client, {"type": "image", "media": media, "replyTo": "3EB0"}, TARGET, b"\x89PNG"
    )
    assert client.calls[0] == (
        "document",
        b"%PDF",
        {
            "caption": "cap",
            "title": "Faktur März.pdf",
            "filename": "Faktur März.pdf",
            "mimetype": "application/pdf",
        },
    )
    assert client.calls[1] == ("audio", b"OggS", {"ptt": True})
    assert client.calls[2] == ("sticker", b"RIFF", {"passthrough": True})
    assert image.imageMessage.contextInfo.stanzaID == "3EB0"


def test_an_edit_and_a_revoke_are_protocol_messages_whatsmeow_recognises():
    from node_agent.engines.whatsapp.message_actions import action_of
    from tests.node_agent.test_whatsapp_events import incoming_event

    edit = builders.build_message(
        None, {"type": "edit", "edit": {"messageId": "3EB0AA"}, "text": "fixed"}, TARGET, None
    )
    inner = edit.editedMessage.message.protocolMessage  # whatsmeow's BuildEdit shape
    assert (inner.key.ID, inner.key.fromMe, inner.editedMessage.conversation) == (
        "3EB0AA",
        True,
        "fixed",
    )
    assert inner.type == inner.MESSAGE_EDIT
    revoke = builders.build_message(
        None, {"type": "revoke", "revoke": {"messageId": "3EB0AA"}}, TARGET, None
    )
    assert (revoke.protocolMessage.type, revoke.protocolMessage.key.ID) == (
        revoke.protocolMessage.REVOKE,
        "3EB0AA",
    )
    assert revoke.protocolMessage.key.remoteJID == "6281200000001@s.whatsapp.net"
    # what the other side's engine makes of them: the same actions, on the same message
    received = action_of(incoming_event(edit.editedMessage.message))  # whatsmeow unwraps it
    assert (received["type"], received["data"]["text"]) == ("message.edited", "fixed")
    assert action_of(incoming_event(revoke))["data"]["messageId"] == "3EB0AA"


def test_a_poll_is_built_by_neonize_with_its_count(tmp_path):
    from neonize.proto import Neonize_pb2 as pb
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, PollCreationMessage

    from tests.node_agent.whatsapp_group_helpers import FakeGo, neonize_client

    go = FakeGo()
    built = Message(pollCreationMessageV3=PollCreationMessage(name="Lunch?"))
    go.answers["BuildPollVoteCreation"] = pb.BuildMessageReturnFunction(Message=built)
    client = neonize_client(tmp_path, go)
    poll = {"name": "Lunch?", "options": ["Soto", "Nasi"], "selectableCount": 2}
    message = builders.build_message(client, {"type": "poll", "poll": poll}, TARGET, None)
    assert message.pollCreationMessageV3.name == "Lunch?"
    [(name, args)] = go.calls
    assert (name, args[1], args[4]) == ("BuildPollVoteCreation", b"Lunch?", 2)
    assert list(pb.ArrayString.FromString(args[2]).data) == ["Soto", "Nasi"]


def test_view_once_media_go_to_neonizes_builders_as_such():
    client = FakeClient()
    media = {"id": "med_1", "mimetype": "image/jpeg"}
    builders.build_message(
        client, {"type": "image", "media": media, "viewOnce": True}, TARGET, b"\xff"
    )
    builders.build_message(client, {"type": "video", "media": media}, TARGET, b"\x00")
    assert [(kind, kwargs["viewonce"]) for kind, _, kwargs in client.calls] == [
        ("image", True),
        ("video", False),
    ]
