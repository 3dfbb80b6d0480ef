"""The node registry: node agents that hold live WhatsApp connections."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from workers_app.validators import validate_worker_id


def heartbeat_deadline() -> timedelta:
    """Return how long a node may stay silent before it counts as offline.

    WORKER_MISSED_HEARTBEATS (3) intervals of WORKER_HEARTBEAT_INTERVAL seconds.
    """
    return timedelta(seconds=settings.WORKER_HEARTBEAT_INTERVAL * settings.WORKER_MISSED_HEARTBEATS)


class WorkerQuerySet(models.QuerySet["Worker"]):
    def online(self) -> WorkerQuerySet:
        """Nodes that can take work now: ONLINE with a heartbeat fresher than the deadline.

        The one definition of "online": a node added ahead that never heartbeat, or one silent
        past the deadline that the health sweep has not marked OFFLINE yet, is not online.
        """
        return self.filter(
            status=Worker.Status.ONLINE, last_heartbeat__gte=timezone.now() - heartbeat_deadline()
        )


class Worker(models.Model):
    """A node agent process; `endpoint` is the Celery queue it consumes (`node.<workerId>`)."""

    class Status(models.TextChoices):
        ONLINE = "ONLINE"
        OFFLINE = "OFFLINE"
        DRAINING = "DRAINING"

    id = models.CharField(primary_key=True, max_length=64)
    endpoint = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ONLINE)
    drain_requested_by = models.CharField(
        max_length=10,
        blank=True,
        help_text="Who put the node in DRAINING: 'operator' (stays until undone) or 'node' "
        "(it asked before a restart; its next registration makes it ONLINE again).",
    )
    session_count = models.PositiveIntegerField(default=0)
    max_sessions = models.PositiveIntegerField(default=100)
    active_connections = models.PositiveIntegerField(default=0)
    cpu_usage = models.FloatField(default=0.0, help_text="Percent of the machine's CPU.")
    memory_usage = models.FloatField(default=0.0, help_text="Percent of the machine's memory.")
    engines = models.JSONField(default=list, blank=True)
    # Engines whose network the node could not reach at its last probe (heartbeat).
    unreachable_engines = models.JSONField(default=list, blank=True)
    session_store = models.CharField(
        max_length=64,
        blank=True,
        help_text="Id of the shared session store the node uses (its registration's "
        "sessionStore); empty = the node's own files. Sessions move only between nodes with "
        "the same non-empty store.",
    )
    instance_id = models.CharField(
        max_length=32,
        blank=True,
        help_text="Random id of the node process that registered last (uuid4 hex, new on every "
        "start). Another process registering under this node's id while that one still "
        "answers is refused: two processes must not share one WORKER_ID.",
    )
    version = models.CharField(max_length=40, blank=True)
    health_url = models.CharField(max_length=200, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)

    objects = WorkerQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = "node"

    def __str__(self) -> str:
        return self.id

    @property
    def heartbeat_fresh(self) -> bool:
        """Tell whether the last heartbeat is younger than the deadline."""
        return (
            self.last_heartbeat is not None
            and self.last_heartbeat >= timezone.now() - heartbeat_deadline()
        )


NODE_SECRET_PREFIX = "wgn_"


def node_secret_hash(secret: str) -> str:
    """The SHA-256 hex digest under which a node secret is stored (240 random bits: a fast hash
    cannot be brute-forced, and a slow one would slow every report down)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class NodeCredential(models.Model):
    """A secret one node presents as `Authorization: Bearer` (its BACKEND_AUTH_TOKEN).

    Issued by an operator for a WORKER_ID (admin or `manage.py issue_node_credential`), stored
    hashed; the node it names is the only one it speaks for: its reports are applied only for
    sessions on that node (or being handed over from it), and the internal media routes serve it
    only those sessions' files. Two credentials of one node may be valid at once, so a secret is
    rotated without a gap: issue a new one, restart the node with it, revoke the old one.
    """

    worker_id = models.CharField(
        max_length=64,
        db_index=True,
        validators=[validate_worker_id],
        help_text="The node's WORKER_ID.",
    )
    prefix = models.CharField(max_length=12, help_text="The secret's first characters.")
    secret_hash = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["worker_id", "-created_at"]

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
