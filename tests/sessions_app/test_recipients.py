import pytest

from sessions_app.recipients import RecipientError, parse_recipient

JID = "6281234567890@s.whatsapp.net"


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("+62 812-3456-7890", None),
        ("+62 (812) 3456.7890", None),
        ("6281234567890", None),
        ("0062 812 3456 7890", None),
        ("081234567890", "ID"),
        ("+６２８１２３４５６７８９０", None),  # fullwidth digits
        ("+٦٢٨١٢٣٤٥٦٧٨٩٠", None),  # Arabic-Indic digits
        ("6281234567890@c.us", None),
        ("6281234567890:12@s.whatsapp.net", None),
        (" 6281234567890@S.WHATSAPP.NET ", None),
    ],
)
def test_written_forms_reach_the_same_jid(value, region):
    recipient = parse_recipient(value, default_region=region)
    assert recipient.chat_jid == JID
    assert recipient.to == "6281234567890"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("081234567890", "missing_country_code"),
        ("12", "too_short"),
        ("1" * 16, "too_long"),
        ("abc", "not_a_number"),
        ("+999 1234567", "invalid_country_code"),
        ("12345\n@s.whatsapp.net", "malformed_jid"),
        ("١٢٣٤٥٦@s.whatsapp.net", "malformed_jid"),
        ("123@evil.com", "unknown_jid_server"),
        ("x@g.us", "malformed_jid"),
    ],
)
def test_bad_forms_give_their_reason(value, reason):
    with pytest.raises(RecipientError) as caught:
        parse_recipient(value)
    assert caught.value.reason == reason


def test_groups_and_lids_keep_their_server():
    assert parse_recipient("120363012345678901@g.us").chat_jid == "120363012345678901@g.us"
    assert parse_recipient("123456789012345@lid").chat_jid == "123456789012345@lid"
