"""Sign-up that does not tell whether an e-mail is registered (when SIGNUP_EMAIL_VERIFICATION).

Every sign-up answers the same "check your inbox" page, in about the same time (a password is
hashed on every path), and the difference goes by e-mail only, to the address's owner:
- a new address: an inactive user is made and mailed a link (valid SIGNUP_LINK_MAX_AGE_S);
  opening it activates the user and logs them in;
- an address whose sign-up still waits: its password is replaced and a new link mailed (a
  stranger who signed up first with someone else's address cannot keep it from them);
- an address with an account: a note that one exists, with the log-in and password-reset links.
With verification off (no mail server: the embedded default), a sign-up logs in at once and a
taken address is a form error, which does tell; README says so.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User

_SALT = "accounts.signup"


def _link(request: Any, name: str, **kwargs: Any) -> str:
    return request.build_absolute_uri(reverse(name, kwargs=kwargs))


def signup_token(user: User) -> str:
    """A signed token naming `user` and the password hash it was made for (so a newer sign-up
    of the same address voids older links)."""
    return signing.dumps({"u": user.pk, "p": user.password[-12:]}, salt=_SALT, compress=True)


def signup_request(*, request: Any, email: str, password: str) -> None:
    """Handle a sign-up of `email` (lower-cased, validated) as the module's docstring says;
    mails its owner. Returns nothing the caller could tell the three cases by."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=password, is_active=False, email_verified_at=None
            )
            template = "accounts/signup_verify_email.txt"
        elif user.email_verified_at is None and not user.is_active:
            user.set_password(password)
            user.save(update_fields=["password"])
            template = "accounts/signup_verify_email.txt"
        else:
            make_password(password)  # the same work as the other paths
            template = "accounts/signup_exists_email.txt"
    context = {
        "email": email,
        "verify_url": _link(request, "accounts:signup_verify", token=signup_token(user)),
        "login_url": _link(request, "accounts:login"),
        "reset_url": _link(request, "accounts:password_reset"),
        "max_age_h": settings.SIGNUP_LINK_MAX_AGE_S // 3600,
    }
    send_mail(
        "Your WhatsApp Gateway sign-up",
        render_to_string(template, context),
        None,
        [email],
    )


def signup_verify(token: str) -> tuple[User | None, bool]:
    """Activate the waiting sign-up `token` names: `(user, True)` the first time. A link used
    before gives `(user, False)`: it logs no one in again (a mailed link that stayed valid for
    days would be a password that skips the login's throttling). `(None, False)` for a bad,
    expired or voided link, or an account that is not waiting (a deactivated one stays so)."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.SIGNUP_LINK_MAX_AGE_S)
    except signing.BadSignature:
        return None, False
    user = User.objects.filter(pk=data.get("u")).first()
    if user is None or user.password[-12:] != data.get("p"):
        return None, False
    if user.email_verified_at is not None:
        return (user, False) if user.is_active else (None, False)
    activated = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
        is_active=True, email_verified_at=timezone.now()
    )  # conditional: of two clicks at once, one logs in
    return user, bool(activated)
