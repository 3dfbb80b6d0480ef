"""Serializer fields for recipients and phone numbers, shared by the app's APIs.

Both wrap `sessions_app.recipients`, the one parser; errors name the reason word.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gateway.fields import StrictCharField
from sessions_app.recipients import RecipientError, parse_phone, parse_recipient

RECIPIENT_MAX_CHARS = 120


@extend_schema_field(StrictCharField(help_text="Phone number in any common form, or a JID"))
class RecipientField(serializers.Field):
    """A recipient: a phone number in any common written form, or a JID; see recipients.py.

    Validates to a `Recipient(to, chat_jid)`. Errors carry the code `invalid_recipient` and a
    reason word (`missing_country_code`, `too_short`, `too_long`, `not_a_number`, …).
    """

    def to_internal_value(self, data: Any) -> Any:
        if (
            not isinstance(data, str | int)
            or isinstance(data, bool)
            or (isinstance(data, int) and data < 0)
        ):
            raise serializers.ValidationError(
                "Recipient must be a string (reason: not_a_number).", code="invalid_recipient"
            )
        value = str(data)
        if len(value) > RECIPIENT_MAX_CHARS:
            raise serializers.ValidationError(
                "Recipient is too long (reason: too_long).", code="invalid_recipient"
            )
        try:
            return parse_recipient(value)
        except RecipientError as exc:
            raise serializers.ValidationError(
                f"{exc} (reason: {exc.reason})", code="invalid_recipient"
            ) from exc

    def to_representation(self, value: Any) -> Any:
        return getattr(value, "to", value)


class PhoneNumberField(StrictCharField):
    """A phone number in any common written form; validates to E.164 digits ("" when blank).

    Errors carry `error_code` (`invalid_phone_number`; `invalid_recipient` where the number is
    the request's subject, as for a number check) and the reason word.
    """

    def __init__(self, *, error_code: str = "invalid_phone_number", **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)
        self.error_code = error_code

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value:
            return ""
        try:
            return parse_phone(value)
        except RecipientError as exc:
            raise serializers.ValidationError(
                f"{exc} (reason: {exc.reason})", code=self.error_code
            ) from exc


# Characters a name may not hold: control characters (C0 and C1, a line break among them) and the
# bidirectional overrides and isolates that make a name read as another (Unicode UAX #9). As a
# pattern, so the OpenAPI schema says it too (gateway/schema/fields.py), with a non-space in it.
_NOT_IN_NAMES = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
one_line_name = RegexValidator(
    rf"^[^{_NOT_IN_NAMES}]*[^\s{_NOT_IN_NAMES}][^{_NOT_IN_NAMES}]*\Z",
    message="A name is one line of text, without control characters.",
)
