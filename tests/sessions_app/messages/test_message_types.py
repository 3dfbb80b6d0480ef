"""Every message type on POST /api/v1/messages: validation, and the payload the node gets."""

import pytest

from sessions_app.media.models import MediaFile
from sessions_app.messages.models import OutboundMessage
from tests.factories import ConnectedSessionFactory
from tests.sessions_app.media.samples import (
    b64,
    mp3_bytes,
    mp4_bytes,
    ogg_opus_bytes,
    pdf_bytes,
    png_bytes,
    webp_bytes,
)

pytestmark = pytest.mark.usefixtures("media_storage")


def send(api, body, **kwargs):
    return api.post("/api/v1/messages", body, format="json", **kwargs)


VALID = [
    ("text", {"text": "Halo 👋"}),
    ("image", {"media": {"base64": b64(png_bytes())}, "text": "caption"}),
    ("video", {"media": {"base64": b64(mp4_bytes())}}),
    ("audio", {"media": {"base64": b64(mp3_bytes())}}),
    ("voice", {"media": {"base64": "data:audio/ogg;base64," + b64(ogg_opus_bytes())}}),
    ("document", {"media": {"base64": b64(pdf_bytes()), "filename": "Faktur März.pdf"}}),
    ("sticker", {"media": {"base64": b64(webp_bytes())}}),
    ("location", {"location": {"latitude": -6.1754, "longitude": 106.8272, "name": "Monas"}}),
    ("contact", {"contact": {"name": "Budi", "phone": "+62 812-0000-0002"}}),
    ("reaction", {"reaction": {"messageId": "3EB0C0FFEE", "emoji": "👍"}}),
    ("edit", {"edit": {"messageId": "3EB0C0FFEE"}, "text": "Fixed: Monday"}),
    ("revoke", {"revoke": {"messageId": "3EB0C0FFEE"}}),
    ("poll", {"poll": {"name": "Lunch?", "options": ["Soto", "Nasi"], "selectableCount": 1}}),
]


@pytest.mark.parametrize(("type_", "fields"), VALID, ids=[v[0] for v in VALID])
def test_every_type_is_accepted_and_published(api, user, published, type_, fields):
    session = ConnectedSessionFactory(owner=user)
    response = send(
        api, {"sessionId": session.id, "to": "+62 812-0000-0001", "type": type_, **fields}
    )
    assert response.status_code == 202, response.json()
    data = response.json()["data"]
    assert (data["type"], data["to"], data["chatId"]) == (
        type_,
        "6281200000001",
        "6281200000001@s.whatsapp.net",
    )
    payload = published[0]["kwargs"]["payload"]
    assert payload["type"] == type_
    if "media" in fields:
        media = payload["media"]
        assert set(media) == {"id", "mimetype", "filename", "size", "sha256"}
        assert MediaFile.objects.get(id=media["id"]).size == media["size"]
        assert "base64" not in str(payload)
    if type_ == "document":
        assert payload["media"]["filename"] == "Faktur März.pdf"
        assert payload["media"]["mimetype"] == "application/pdf"
    if type_ == "voice":
        assert payload["media"]["mimetype"] == "audio/ogg"
    if type_ == "contact":
        assert payload["contact"]["name"] == "Budi"
        assert "waid=6281200000002" in payload["contact"]["vcard"]
    if type_ == "location":
        assert payload["location"] == {"latitude": -6.1754, "longitude": 106.8272, "name": "Monas"}
    if type_ == "reaction":
        assert payload["reaction"] == {"messageId": "3EB0C0FFEE", "emoji": "👍"}
    if type_ in ("edit", "revoke"):
        assert payload[type_] == {"messageId": "3EB0C0FFEE"}


def test_reply_and_mentions_are_normalized(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    response = send(
        api,
        {
            "sessionId": session.id,
            "to": "120363000000000000@g.us",
            "text": "@6281200000001 look",
            "replyTo": "3EB0AAAA",
            "mentions": ["+62 812-0000-0001", "6281200000002@s.whatsapp.net"],
        },
    )
    assert response.status_code == 202, response.json()
    payload = published[0]["kwargs"]["payload"]
    assert payload["replyTo"] == "3EB0AAAA"
    assert payload["mentions"] == ["6281200000001", "6281200000002"]
    assert payload["chatId"] == "120363000000000000@g.us"


INVALID = [
    ({"type": "text"}, "text_required", "text"),
    ({"type": "text", "text": "   \n"}, "text_required", "text"),
    ({"type": "image"}, "validation_error", "media"),
    ({"type": "image", "media": {}}, "validation_error", "media"),
    (
        {"type": "image", "media": {"url": "http://x/a.png", "base64": "AA=="}},
        "validation_error",
        "media",
    ),
    ({"type": "location"}, "validation_error", "location"),
    (
        {"type": "location", "location": {"latitude": 91, "longitude": 0}},
        "validation_error",
        "location",
    ),
    (
        {"type": "location", "location": {"latitude": "x", "longitude": 0}},
        "validation_error",
        "location",
    ),
    ({"type": "contact", "contact": {"name": "A"}}, "validation_error", "contact"),
    ({"type": "contact", "contact": {"name": "A", "vcard": "nope"}}, "validation_error", "contact"),
    ({"type": "contact", "contact": {"name": "A", "phone": "12"}}, "validation_error", "contact"),
    ({"type": "reaction", "reaction": {"emoji": "👍"}}, "validation_error", "reaction"),
    ({"type": "reaction", "reaction": "👍"}, "validation_error", "reaction"),
    ({"type": "edit", "text": "x"}, "validation_error", "edit"),
    ({"type": "edit", "edit": {"messageId": "3EB0A"}}, "text_required", "text"),
    ({"type": "revoke", "revoke": {"messageId": "3EB0A"}, "text": "x"}, "validation_error", "text"),
    ({"type": "text", "text": "x", "edit": {"messageId": "3EB0A"}}, "validation_error", "edit"),
    ({"type": "poll", "poll": {"name": "Q", "options": ["only one"]}}, "validation_error", "poll"),
    ({"type": "poll", "poll": {"name": "Q", "options": ["a", "a"]}}, "validation_error", "poll"),
    (
        {"type": "poll", "poll": {"name": "Q", "options": ["a", "b"], "selectableCount": 3}},
        "validation_error",
        "poll",
    ),
    (
        {"type": "poll", "poll": {"name": "Q", "options": [str(n) for n in range(13)]}},
        "validation_error",
        "poll",
    ),
    ({"type": "story", "text": "x"}, "validation_error", "type"),
    ({"type": "text", "text": "x", "viewOnce": True}, "validation_error", "viewOnce"),
    (
        {"type": "document", "media": {"base64": "AA=="}, "viewOnce": True},
        "validation_error",
        "viewOnce",
    ),
    (
        {"type": "location", "text": "x", "location": {"latitude": 1, "longitude": 1}},
        "validation_error",
        "text",
    ),
    ({"type": "text", "text": "x", "media": {"base64": "AA=="}}, "validation_error", "media"),
    ({"type": "text", "text": "x", "mentions": "6281200000001"}, "validation_error", "mentions"),
    ({"type": "text", "text": "x", "mentions": ["hello"]}, "invalid_recipient", "mentions"),
    ({"type": "image", "media": {"base64": 5}}, "validation_error", "media"),
    ({"type": "image", "media": {"base64": "!!!not base64!!!"}}, "invalid_media", "media"),
    (
        {"type": "image", "media": {"base64": b64(png_bytes())}, "text": "x" * 1025},
        "text_too_long",
        "text",
    ),
]


@pytest.mark.parametrize(("fields", "code", "field"), INVALID)
def test_each_type_requires_its_fields(api, user, published, fields, code, field):
    session = ConnectedSessionFactory(owner=user)
    response = send(api, {"sessionId": session.id, "to": "+6281200000001", **fields})
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == code, error
    assert field in error["fields"], error
    assert published == []
    assert not OutboundMessage.objects.exists()


TEXTS = [
    "emoji 👨‍👩‍👧‍👦🏳️‍🌈",
    "RTL עברית العربية",
    "combining e\u0301 a\u0308 n\u0303",
    "zero\u200bwidth\u200djoiner",
    "  leading and trailing  \n",
    "\u202eoverride",
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_is_kept_byte_for_byte(api, user, published, text):
    session = ConnectedSessionFactory(owner=user)
    response = send(api, {"sessionId": session.id, "to": "+6281200000001", "text": text})
    assert response.status_code == 202
    assert published[0]["kwargs"]["payload"]["text"].encode() == text.encode()
    message = OutboundMessage.objects.get()
    assert message.payload["text"].encode() == text.encode()


def test_text_too_long(api, user, published, settings):
    settings.MESSAGE_TEXT_MAX_CHARS = 10
    session = ConnectedSessionFactory(owner=user)
    response = send(api, {"sessionId": session.id, "to": "+6281200000001", "text": "x" * 11})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "text_too_long")


def test_same_key_same_media_body_returns_the_first_message(api, user, published):
    session = ConnectedSessionFactory(owner=user)
    body = {
        "sessionId": session.id,
        "to": "+6281200000001",
        "type": "image",
        "media": {"base64": b64(png_bytes())},
    }
    first = send(api, body, HTTP_IDEMPOTENCY_KEY="k-1").json()["data"]
    second = send(api, body, HTTP_IDEMPOTENCY_KEY="k-1").json()["data"]
    assert first["messageId"] == second["messageId"]
    assert len(published) == 1
    other = send(
        api,
        {**body, "type": "sticker", "media": {"base64": b64(webp_bytes())}},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_mismatch")


def test_schema_documents_every_type_with_an_example(api):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/messages"]["post"]
    content = operation["requestBody"]["content"]
    assert "multipart/form-data" in content
    examples = content["application/json"]["examples"]
    types = {example["value"]["type"] for example in examples.values()}
    assert types >= {v[0] for v in VALID}
