"""Plans (the limits of a tier), one user's overrides, quota counters and usage records."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

UNLIMITED_HELP = "Empty: unlimited."
OVERRIDE_HELP = "Empty: the plan's value."


def _limit(help_text: str, **extra: object) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(null=True, blank=True, help_text=help_text, **extra)


def validate_engines(value: object) -> None:
    """A plan's `engines` is a list of distinct engine names (`whatsapp`, `sandbox`)."""
    from sessions_app.sessions.models import Session  # the engines' one home; no app cycle

    known = set(Session.Engine.values)
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError('A list of engine names, e.g. ["whatsapp"].')
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValidationError(f"Unknown engine {unknown[0]!r}: one of {', '.join(sorted(known))}.")
    if len(set(value)) != len(value):
        raise ValidationError("Each engine once.")


class Plan(models.Model):
    """The limits of one tier. A user's `plan` names it by its `tier` code (BASIC, PRO, ...).

    Every limit left empty is unlimited. Rates: `send_rate_per_s` messages per second per session
    with bursts of `send_burst`, paced on the node (a backlog waits, nothing is refused);
    `api_requests_per_minute` per API key (a dashboard login counts as one key);
    `number_checks_per_minute` per session. Quotas (`messages_per_day`, `messages_per_month`)
    count accepted sends per user and UTC day / calendar month. `engines` lists the engines its
    users may create sessions on (empty: every engine).
    """

    BASIC = "BASIC"
    PRO = "PRO"
    ENTERPRISE = "ENTERPRISE"

    tier = models.CharField(
        max_length=12,
        unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9_]*$", "Upper-case letters, digits and _.")],
    )
    name = models.CharField(max_length=60)
    max_sessions = _limit(UNLIMITED_HELP)
    messages_per_day = _limit(UNLIMITED_HELP)
    messages_per_month = _limit(UNLIMITED_HELP)
    send_rate_per_s = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.01)], help_text=UNLIMITED_HELP
    )
    send_burst = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Messages sent at once."
    )
    api_requests_per_minute = _limit(UNLIMITED_HELP, validators=[MinValueValidator(1)])
    number_checks_per_minute = _limit(UNLIMITED_HELP, validators=[MinValueValidator(1)])
    max_webhooks = _limit(UNLIMITED_HELP)
    engines = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_engines],
        help_text='Engines allowed, e.g. ["whatsapp"]; empty: all.',
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.tier})"


class PlanOverride(models.Model):
    """An operator's exceptions to one user's plan: each limit set here replaces the plan's."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_override"
    )
    max_sessions = _limit(OVERRIDE_HELP)
    messages_per_day = _limit(OVERRIDE_HELP)
    messages_per_month = _limit(OVERRIDE_HELP)
    send_rate_per_s = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.01)], help_text=OVERRIDE_HELP
    )
    send_burst = _limit(OVERRIDE_HELP, validators=[MinValueValidator(1)])
    api_requests_per_minute = _limit(OVERRIDE_HELP, validators=[MinValueValidator(1)])
    number_checks_per_minute = _limit(OVERRIDE_HELP, validators=[MinValueValidator(1)])
    max_webhooks = _limit(OVERRIDE_HELP)
    note = models.CharField(max_length=200, blank=True, help_text="Why, for the next operator.")

    def __str__(self) -> str:
        return f"Overrides for {self.user_id}"


class QuotaCounter(models.Model):
    """Sends accepted for one user today and this month: the quota's exact count.

    One row per user, moved on to a new day or month by the same conditional UPDATE that counts
    (services.quota_consume), so concurrent sends in any number of processes never pass a quota.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    day = models.DateField()
    day_count = models.PositiveIntegerField(default=0)
    month = models.DateField(help_text="First day of the month counted.")
    month_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}={self.day_count} {self.month:%Y-%m}={self.month_count}"


class UsageRecord(models.Model):
    """How many messages a key sent through a session on one (UTC) day. One row per key and day."""

    class Kind(models.TextChoices):
        MESSAGE_OUT = "message_out"
        MESSAGE_IN = "message_in"
        NUMBER_CHECK = "number_check"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records"
    )
    # Usage outlives what it was counted for: a deleted session or key keeps its id here (no
    # database constraint, nothing cascades), so the history stays per session and per key and
    # two deleted sessions' rows of one day never collapse into one row and collide.
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MESSAGE_OUT)
    billing_date = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-billing_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "session", "api_key", "kind", "billing_date"],
                name="usage_one_row_per_key_and_day",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.billing_date} {self.kind}={self.count}"


class MonthlyStatement(models.Model):
    """One user's usage of one calendar month (UTC), as billed: kept as a row once the month
    is over (billing.statements), so it does not change when usage rows are pruned or a
    plan is edited later. `overage` is what went past the plan's monthly quota (0 without
    one); `amount_due` is for a payment provider to fill in (the `statement_closed` signal of
    billing.statements is the hook), and stays empty here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="statements"
    )
    month = models.DateField(help_text="First day of the month.")
    tier = models.CharField(max_length=20, help_text="The plan the month was billed on.")
    messages_out = models.PositiveIntegerField(default=0)
    messages_in = models.PositiveIntegerField(default=0)
    number_checks = models.PositiveIntegerField(default=0)
    included = models.PositiveIntegerField(
        null=True, blank=True, help_text="The plan's messages per month. Empty: unlimited."
    )
    overage = models.PositiveIntegerField(default=0)
    amount_due = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "month"], name="statement_one_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.month:%Y-%m}"


class NodeUsageReport(models.Model):
    """What one node counted for one session in one UTC hour [period_start, period_end), from
    its hourly usage report, next to the backend's own count (billing/reconcile.py).

    `sent` and `received` are the node's figures; a repeat of the report replaces them. The
    backend keeps no per-hour ledger of incoming messages, so `received` is the node's word
    alone. `reconciled_sent` is the ledger's count of the session's messages sent in the hour
    (OutboundMessage.sent_at), None when the session is unknown here. `session_id` is kept
    without a constraint and `user` may be empty (a session unknown or deleted): usage outlives
    sessions, as UsageRecord's does.
    """

    worker_id = models.CharField(max_length=64)
    session_id = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="node_usage_reports",
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    sent = models.PositiveIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    reconciled_sent = models.PositiveIntegerField(
        null=True, blank=True, help_text="The ledger's count. Empty: session unknown."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start", "session_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker_id", "session_id", "period_start"],
                name="node_usage_one_per_node_session_hour",
            )
        ]
        indexes = [models.Index(fields=["session_id", "period_start"])]

    def __str__(self) -> str:
        return f"{self.worker_id} {self.session_id} {self.period_start:%Y-%m-%d %H:00}"
