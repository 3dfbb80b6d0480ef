"""A WhatsApp session: one linked account, the node it runs on, its status and QR."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from sessions_app.ids import new_session_id

# Bounds of a session's human-like pacing (README "Human-like pacing"; sessions/pacing.py).
PACING_DELAY_MAX_MS = 60_000  # the longest random delay before a send: one minute
NEW_NUMBER_DAYS_MAX = 365
NEW_NUMBER_DAILY_CAP_MAX = 100_000


class SessionQuerySet(models.QuerySet["Session"]):
    def for_owner(self, owner: object) -> SessionQuerySet:
        return self.filter(owner=owner)


class Session(models.Model):
    """One linked WhatsApp account. Statuses are upper case as in the seed."""

    class Status(models.TextChoices):
        DISCONNECTED = "DISCONNECTED"
        INITIALIZING = "INITIALIZING"
        QR_REQUIRED = "QR_REQUIRED"
        PAIRING = "PAIRING"
        CONNECTED = "CONNECTED"
        RECONNECTING = "RECONNECTING"
        LOGGED_OUT = "LOGGED_OUT"
        FAILED = "FAILED"

    class Engine(models.TextChoices):
        WHATSAPP = "whatsapp", "WhatsApp"
        SANDBOX = "sandbox", "Sandbox"

    id = models.CharField(primary_key=True, max_length=32, default=new_session_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wa_sessions"
    )
    worker = models.ForeignKey(
        "workers_app.Worker",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
    )
    name = models.CharField(max_length=100)
    engine = models.CharField(max_length=10, choices=Engine.choices, default=Engine.WHATSAPP)
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164 digits.")
    jid = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.DISCONNECTED)
    status_reason = models.CharField(max_length=64, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    connect_method = models.CharField(max_length=14, blank=True)
    qr_code = models.TextField(blank=True, help_text="data:image/png;base64,…")
    qr_string = models.TextField(blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    pairing_code = models.CharField(max_length=16, blank=True)
    session_store = models.CharField(
        max_length=64,
        blank=True,
        help_text="The shared session store holding the session's login (its node's "
        "session_store when it last connected); empty = a node's own files, or logged out.",
    )
    moved_from = models.CharField(
        max_length=64,
        blank=True,
        help_text="The node a move (status RECONNECTING, node_moved) hands the session over from; "
        "if that node dies before it hands over, the target starts the session by itself.",
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    linked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the session first connected with its current phone number (a new "
        "number's daily cap counts from it).",
    )
    pacing_min_delay_ms = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(PACING_DELAY_MAX_MS)],
        help_text="Human-like pacing: the shortest random delay before each send (ms).",
    )
    pacing_max_delay_ms = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(PACING_DELAY_MAX_MS)],
        help_text="The longest random delay before each send (ms); 0 = no delay.",
    )
    pacing_typing = models.BooleanField(
        default=False, help_text='Show "typing…" in the chat before each text.'
    )
    call_policy = models.JSONField(
        default=dict,
        blank=True,
        help_text='Incoming calls: {"reject": bool, "message": text sent to the caller}.',
    )
    new_number_days = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(NEW_NUMBER_DAYS_MAX)],
        help_text="For this many days after linking a number, cap its sends a UTC day; 0 = off.",
    )
    new_number_daily_cap = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(NEW_NUMBER_DAILY_CAP_MAX)],
        help_text="Messages a UTC day accepted while the number is new (1 or more when on).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pacing_min_delay_ms__lte=models.F("pacing_max_delay_ms"))
                & models.Q(pacing_max_delay_ms__lte=PACING_DELAY_MAX_MS),
                name="session_pacing_delay_bounds",
            ),
            models.CheckConstraint(
                condition=models.Q(new_number_days=0) | models.Q(new_number_daily_cap__gte=1),
                name="session_new_number_cap_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def sendable(self) -> bool:
        """CONNECTED and placed on a node: what a send or a number check needs (else 409
        `session_not_connected`)."""
        return self.status == Session.Status.CONNECTED and bool(self.worker_id)


def node_serves(node_id: str | None, *serving: str | None) -> bool:
    """Whether node `node_id` may report about a session or a message that `serving` names:
    the session's node, the node it is being handed over from, the node a message was published
    to (empty or None entries name nothing). `node_id` None is the shared node token, which
    speaks for every node (deployments that have not given each node its own credential)."""
    return node_id is None or node_id in {name for name in serving if name}
