"""`python manage.py create_api_key --email E [--session ID] [--name N] [--plan TIER]`: issue an
API key.

Creates the user (API-only, no password) if the email is new; `--plan` puts the user on that plan
(BASIC, PRO, ENTERPRISE or an operator's own). The key is printed as the last line
of standard output and is never shown again; everything else goes to standard error.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.models import User
from accounts.services import api_key_create, user_create
from billing.models import Plan
from billing.services import quota_recount
from sessions_app.sessions.models import Session


class Command(BaseCommand):
    help = "Create an API key for a user (created if new); prints the key as the last line."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--session", default=None, help="Bind the key to this session id.")
        parser.add_argument("--name", default="CLI key")
        parser.add_argument("--plan", default=None, help="Put the user on this plan (tier code).")

    def handle(
        self,
        *args: Any,
        email: str,
        session: str | None,
        name: str,
        plan: str | None = None,
        **options: Any,
    ) -> None:
        email = email.strip()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"Not an email address: {email!r}") from exc
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = user_create(email=email)
            self.stderr.write(f"Created user {user.email} (API only; set a password to log in).")
        if plan:
            if not Plan.objects.filter(tier=plan).exists():
                tiers = ", ".join(Plan.objects.values_list("tier", flat=True))
                raise CommandError(f"No plan {plan!r}; the plans are {tiers}.")
            User.objects.filter(id=user.id).update(plan=plan)
            quota_recount(user_id=user.id)
        bound = None
        if session:
            bound = Session.objects.filter(id=session, owner=user).first()
            if bound is None:
                raise CommandError(f"User {user.email} has no session {session}.")
        issued = api_key_create(owner=user, name=name, session=bound)
        self.stderr.write(f"API key {issued.api_key.prefix}… created; it will not be shown again.")
        self.stdout.write(issued.secret)
