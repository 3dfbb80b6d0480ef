"""Dashboard forms: sessions (create, connect, sandbox phone), a test message, webhooks.

Phone numbers and recipients are read by `sessions_app.recipients`, as in the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator

from gateway.forms import DashboardForm
from sessions_app.messages.text import is_blank_text
from sessions_app.recipients import Recipient, RecipientError, parse_phone, parse_recipient
from sessions_app.sessions.models import Session
from sessions_app.webhooks.events import TEST_EVENT
from sessions_app.webhooks.models import ALL_EVENTS, EVENT_TYPES, OPT_IN_EVENTS


def _phone_digits(value: str) -> str:
    """Normalize a phone number to E.164 digits, or raise a ValidationError naming why."""
    try:
        return parse_phone(value)
    except RecipientError as exc:
        raise forms.ValidationError(str(exc), code=exc.reason) from exc


class SessionCreateForm(DashboardForm):
    name = forms.CharField(max_length=100)
    engine = forms.ChoiceField(
        choices=[
            (Session.Engine.WHATSAPP, "WhatsApp"),
            (Session.Engine.SANDBOX, "Sandbox"),
        ],
        initial=Session.Engine.WHATSAPP,
        help_text="Sandbox is a simulated WhatsApp network for testing: no phone needed.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if is_blank_text(name):
            raise forms.ValidationError("The name is blank.", code="blank")
        return name


class ConnectForm(DashboardForm):
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


class SandboxIncomingForm(DashboardForm):
    sender = forms.CharField(
        label="From",
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "+1 555 000 2222"}),
    )
    text = forms.CharField(max_length=4096, widget=forms.TextInput(attrs={"placeholder": "Hi!"}))

    def clean_sender(self) -> str:
        return _phone_digits(self.cleaned_data["sender"])


class SendTestForm(DashboardForm):
    to = forms.CharField(max_length=100, help_text="A phone number with country code, or a JID.")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The limit is a setting, so it is set per form rather than at import.
        self.fields["text"].max_length = settings.MESSAGE_TEXT_MAX_CHARS
        self.fields["text"].validators.append(MaxLengthValidator(settings.MESSAGE_TEXT_MAX_CHARS))
        self.recipient: Recipient | None = None

    def clean_to(self) -> str:
        value = self.cleaned_data["to"]
        try:
            self.recipient = parse_recipient(value)
        except RecipientError as exc:
            raise forms.ValidationError(str(exc), code=exc.reason) from exc
        return value

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if is_blank_text(text):
            raise forms.ValidationError("The text is blank.", code="text_required")
        return text

    def send_values(self) -> dict[str, Any]:
        """Return the validated form as a send body for `messages.services.message_submit`."""
        return {"to": self.recipient, "type": "text", "text": self.cleaned_data["text"]}


class WebhookCreateForm(DashboardForm):
    url = forms.CharField(label="URL", max_length=2000)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(ALL_EVENTS, "All events (but QR rotations)")]
        + [(t, f"{t} (each QR rotation)" if t in OPT_IN_EVENTS else t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        initial=[ALL_EVENTS],
    )
    session = forms.ModelChoiceField(
        queryset=Session.objects.none(), required=False, empty_label="All sessions"
    )
    hub_signature = forms.BooleanField(
        label="Also send X-Hub-Signature-256 (Meta Cloud API style)", required=False
    )

    def __init__(self, *args: Any, owner: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = Session.objects.for_owner(owner)


class MessageLogFilter(DashboardForm):
    """The message log's search (GET): text, direction, and the page (`before` a cursor)."""

    q = forms.CharField(label="Search", max_length=100, required=False)
    direction = forms.ChoiceField(
        choices=[("", "Both directions"), ("in", "Incoming"), ("out", "Outgoing")],
        required=False,
    )
    before = forms.IntegerField(min_value=0, max_value=2**63 - 1, required=False)


class EventFilter(DashboardForm):
    """The event monitor's and delivery log's filters (GET)."""

    type = forms.ChoiceField(required=False)
    session = forms.ModelChoiceField(
        queryset=Session.objects.none(), required=False, empty_label="All sessions"
    )
    status = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, owner: Any, statuses: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "All events")] + [(t, t) for t in EVENT_TYPES]
        self.fields["type"].choices += [(TEST_EVENT, TEST_EVENT)]
        self.fields["session"].queryset = Session.objects.for_owner(owner)
        self.fields["status"].choices = [("", "Any status"), *statuses]

    def value(self, name: str) -> Any:
        """The field's validated value, or its empty value when the filter is invalid."""
        return self.cleaned_data.get(name) if self.is_valid() else None
