"""Dashboard forms for sessions: create, connect, sandbox phone actions, a test message."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from sessions_app.models import Session
from sessions_app.recipients import USER_SERVER, Recipient, RecipientError, parse_recipient


def _phone_digits(value: str) -> str:
    """Normalize a phone number (not a JID) to E.164 digits, or raise a ValidationError."""
    if "@" in value:
        raise forms.ValidationError("Enter a phone number, not a JID.", code="not_a_number")
    try:
        recipient = parse_recipient(value, default_region=settings.DEFAULT_PHONE_REGION)
    except RecipientError as exc:
        raise forms.ValidationError(str(exc), code=exc.reason) from exc
    if not recipient.chat_jid.endswith("@" + USER_SERVER):
        raise forms.ValidationError("Enter a phone number, not a JID.", code="not_a_number")
    return recipient.to


class SessionCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    engine = forms.ChoiceField(
        choices=[
            (Session.Engine.WHATSAPP, "WhatsApp"),
            (Session.Engine.SANDBOX, "Sandbox"),
        ],
        initial=Session.Engine.WHATSAPP,
        help_text="Sandbox is a simulated WhatsApp network for testing: no phone needed.",
    )


class ConnectForm(forms.Form):
    method = forms.ChoiceField(
        choices=[("qr", "QR code"), ("pairing_code", "Pairing code")],
        initial="qr",
        widget=forms.RadioSelect,
    )
    phone_number = forms.CharField(
        max_length=32,
        required=False,
        help_text="Only for a pairing code: the phone's number with its country code.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        phone = (cleaned.get("phone_number") or "").strip()
        if cleaned.get("method") == "pairing_code":
            if not phone:
                self.add_error("phone_number", "A pairing code needs the phone's number.")
            else:
                try:
                    cleaned["phone_number"] = _phone_digits(phone)
                except forms.ValidationError as exc:
                    self.add_error("phone_number", exc)
        else:
            cleaned["phone_number"] = ""
        return cleaned


class SandboxIncomingForm(forms.Form):
    sender = forms.CharField(
        label="From",
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "+1 555 000 2222"}),
    )
    text = forms.CharField(max_length=4096, widget=forms.TextInput(attrs={"placeholder": "Hi!"}))

    def clean_sender(self) -> str:
        return _phone_digits(self.cleaned_data["sender"])


class SendTestForm(forms.Form):
    to = forms.CharField(max_length=100, help_text="A phone number with country code, or a JID.")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The limit is a setting, so the field is built per form rather than at import.
        self.fields["text"] = forms.CharField(
            max_length=settings.MESSAGE_TEXT_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 2})
        )
        self.recipient: Recipient | None = None

    def clean_to(self) -> str:
        value = self.cleaned_data["to"]
        try:
            self.recipient = parse_recipient(value, default_region=settings.DEFAULT_PHONE_REGION)
        except RecipientError as exc:
            raise forms.ValidationError(str(exc), code=exc.reason) from exc
        return value
