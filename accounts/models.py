"""Users (the tenants) and their API keys."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        if "tier" in extra:  # the plan by its tier code, as callers named it before plans
            extra["plan_id"] = extra.pop("tier")
        # A user made by an operator or a script is taken as verified; a sign-up that waits for
        # its e-mail link passes None (accounts.signup).
        extra.setdefault("email_verified_at", timezone.now())
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", User.Role.ADMIN)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A tenant of the gateway, logging in by email. `role` ADMIN marks an operator.

    `plan` sets the limits (billing.Plan, with the user's billing.PlanOverride if any).
    """

    class Role(models.TextChoices):
        USER = "USER"
        ADMIN = "ADMIN"

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.USER)
    # The plan by its tier code (the column keeps the name `tier`): loaded with the API key in one
    # query, so enforcing the plan costs the hot send path no query of its own.
    plan = models.ForeignKey(
        "billing.Plan",
        to_field="tier",
        db_column="tier",
        default="BASIC",
        on_delete=models.PROTECT,
        related_name="users",
    )
    suspended_at = models.DateTimeField(
        null=True, blank=True, help_text="Set: the user's keys answer 401 account_suspended."
    )
    email_verified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Empty while a sign-up waits for its e-mail link (the user is inactive then).",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


API_KEY_PREFIX = "wag_"


def api_key_hash(secret: str) -> str:
    """Return the SHA-256 hex digest under which a key is stored.

    A key carries 240 random bits, so a fast hash cannot be brute-forced; a slow password hash
    would only slow every API call down.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def for_owner(self, owner: User) -> ApiKeyQuerySet:
        return self.filter(owner=owner)


class ApiKey(models.Model):
    """An API key: user-wide, or bound to one session. Only the hash of the secret is stored."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="When set, the key can only use this session.",
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="Shown to tell keys apart; not secret.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    last_used = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
