"""Dashboard forms for signing up, logging in and creating API keys."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.http import HttpRequest

from accounts.models import User
from gateway.forms import DashboardForm
from sessions_app.sessions.models import Session


class SignupForm(DashboardForm):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        # The manager stores emails lower-cased, so uniqueness is checked the same way.
        email = self.cleaned_data["email"].strip().lower()
        # With verification, a taken address is told by e-mail only (accounts.signup).
        if not settings.SIGNUP_EMAIL_VERIFICATION and User.objects.filter(email=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            try:
                password_validation.validate_password(
                    password1, user=User(email=cleaned.get("email", ""))
                )
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class LoginForm(DashboardForm):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: User | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email = cleaned.get("email")
        password = cleaned.get("password")
        if email and password:
            user = authenticate(self.request, email=email.strip().lower(), password=password)
            # One message for both a wrong email and a wrong password: don't reveal which.
            if user is None:
                raise forms.ValidationError("Email or password is wrong.", code="invalid_login")
            if user.suspended_at is not None:
                raise forms.ValidationError(
                    "This account is suspended; contact the operator of this gateway.",
                    code="account_suspended",
                )
            self.user = user
        return cleaned


class ApiKeyCreateForm(DashboardForm):
    name = forms.CharField(max_length=100)
    session = forms.ModelChoiceField(
        queryset=Session.objects.none(),
        required=False,
        empty_label="All sessions",
        help_text="A key bound to one session can only use that session.",
    )

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the owner's sessions can be chosen; another's id fails as an invalid choice.
        self.fields["session"].queryset = Session.objects.for_owner(owner)  # type: ignore[attr-defined]
