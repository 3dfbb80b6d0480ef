"""Turning what a user writes in `to` into a WhatsApp chat JID.

Phone numbers are parsed with `phonenumbers` (Google's libphonenumber) and normalized to E.164
digits without the `+`, which is the user part of a WhatsApp JID. JIDs pass through with their
server checked (`s.whatsapp.net`, `c.us` — the legacy name of the same server —, `g.us` for
groups, `lid` for linked identities); a device suffix (`:12`) is dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from phonenumbers import ValidationResult

from node_agent.protocol import USER_SERVER

_JID_SERVERS = {"s.whatsapp.net": USER_SERVER, "c.us": USER_SERVER, "g.us": "g.us", "lid": "lid"}
_JID_USER = {
    USER_SERVER: re.compile(r"[0-9]{5,20}"),
    "g.us": re.compile(r"[0-9]{5,20}(-[0-9]{5,20})?"),
    "lid": re.compile(r"[0-9]{5,20}"),
}
_PHONE_CHARS = re.compile(r"[0-9 ().\-+/]+")

_POSSIBLE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
    ValidationResult.TOO_SHORT: "too_short",
    ValidationResult.TOO_LONG: "too_long",
    ValidationResult.INVALID_LENGTH: "invalid_length",
}


class RecipientError(ValueError):
    """`to` cannot be turned into a recipient; `reason` is a stable snake_case word."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class Recipient:
    """A normalized recipient: `to` is E.164 digits (or the JID's user part), `chat_jid` the JID."""

    to: str
    chat_jid: str


_SETTING = "setting"


def parse_recipient(value: str, *, default_region: str | None = _SETTING) -> Recipient:
    """Normalize a phone number in any common written form, or a JID.

    Numbers with a `+` or `00` prefix are international; bare digits are read as international
    unless they start with a national trunk prefix (`0`) and `default_region` (ISO 3166 alpha-2,
    e.g. "ID"; by default the DEFAULT_PHONE_REGION setting) says how to read them. Raises
    RecipientError.
    """
    if default_region == _SETTING:
        default_region = settings.DEFAULT_PHONE_REGION
    raw = (value or "").strip()
    if not raw:
        raise RecipientError("empty", "Recipient is empty.")
    if "@" in raw:
        return _parse_jid(raw)
    # Digits typed in another script (fullwidth, Arabic-Indic, …) count as the digits they are.
    raw = "".join(str(d) if (d := unicodedata.decimal(c, None)) is not None else c for c in raw)
    if not _PHONE_CHARS.fullmatch(raw):
        raise RecipientError("not_a_number", "Recipient is neither a phone number nor a JID.")
    digits = re.sub(r"[^0-9]", "", raw)
    # E.164 allows at most 15 digits (ITU-T E.164 §6); no real number has fewer than 5.
    if len(digits) < 5:
        raise RecipientError("too_short", "Phone number is too short.")
    if len(digits.removeprefix("00")) > 15:
        raise RecipientError("too_long", "Phone number is longer than E.164's 15 digits.")
    if raw.startswith("+"):
        text = "+" + digits
    elif digits.startswith("00"):
        text = "+" + digits[2:]
    elif digits.startswith("0"):
        if not default_region:
            raise RecipientError(
                "missing_country_code",
                "Number is in a local form; add the country code or set the default region.",
            )
        text = digits
    else:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise RecipientError("invalid_country_code", "Unknown country code.") from exc
        raise RecipientError("not_a_number", "Not a phone number.") from exc
    result = phonenumbers.is_possible_number_with_reason(number)
    if result not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        reason = _POSSIBLE_REASONS.get(result, "invalid_number")
        raise RecipientError(reason, f"Phone number is not possible ({reason}).")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return Recipient(to=e164, chat_jid=f"{e164}@{USER_SERVER}")


def _parse_jid(raw: str) -> Recipient:
    user, _, server = raw.lower().partition("@")
    server = _JID_SERVERS.get(server)
    if server is None:
        raise RecipientError("unknown_jid_server", "Unknown JID server.")
    user = user.split(":", 1)[0]  # a device suffix addresses one device, never a chat
    if not _JID_USER[server].fullmatch(user):
        raise RecipientError("malformed_jid", "Malformed JID.")
    return Recipient(to=user, chat_jid=f"{user}@{server}")


def parse_phone(value: str) -> str:
    """Normalize a phone number (or a phone's JID, `…@s.whatsapp.net`) to E.164 digits.

    For a phone and nothing else: a pairing code's phone, a contact card's, a sandbox phone's, a
    number to check. Raises RecipientError, with reason `not_a_phone_number` for a group or
    LID JID.
    """
    recipient = parse_recipient(value)
    if not recipient.chat_jid.endswith("@" + USER_SERVER):
        raise RecipientError("not_a_phone_number", "Give a phone number, not a group or LID JID.")
    return recipient.to
