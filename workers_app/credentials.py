"""Per-node credentials: issue, authenticate, revoke (workers_app.models.NodeCredential)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from gateway.models import system_log
from workers_app.models import NODE_SECRET_PREFIX, NodeCredential, node_secret_hash
from workers_app.validators import validate_worker_id

# A credential's last use is written at most this often (not once per report).
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedNodeCredential:
    """A fresh credential: `secret` is the only time the full secret exists outside the node."""

    credential: NodeCredential
    secret: str


def node_credential_issue(*, worker_id: str, note: str = "") -> IssuedNodeCredential:
    """Issue a secret for the node `worker_id` (`wgn_` + 40 URL-safe characters; only its
    SHA-256 is kept). Earlier credentials of the node stay valid until revoked. Raises
    ValidationError for a malformed WORKER_ID."""
    validate_worker_id(worker_id)
    secret = NODE_SECRET_PREFIX + secrets.token_urlsafe(30)
    credential = NodeCredential.objects.create(
        worker_id=worker_id, prefix=secret[:12], secret_hash=node_secret_hash(secret), note=note
    )
    system_log(
        event="node_credential.issued",
        message=f"Credential {credential.prefix}… issued for node {worker_id}",
        worker_id=worker_id,
    )
    return IssuedNodeCredential(credential=credential, secret=secret)


def node_credential_authenticate(secret: str) -> NodeCredential | None:
    """Return the active credential `secret` is, or None. One indexed read; its last use is
    written at most once a minute."""
    if not secret.startswith(NODE_SECRET_PREFIX):
        return None
    credential = NodeCredential.objects.filter(
        secret_hash=node_secret_hash(secret), revoked_at__isnull=True
    ).first()
    if credential is None:
        return None
    now = timezone.now()
    if credential.last_used_at is None or now - credential.last_used_at > LAST_USED_EVERY:
        NodeCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    return credential


def node_credential_revoke(*, credential_id: int) -> bool:
    """Revoke a credential at once (its node's next request is 401); False if it was not
    active."""
    credential = NodeCredential.objects.filter(pk=credential_id, revoked_at__isnull=True).first()
    if credential is None:
        return False
    NodeCredential.objects.filter(pk=credential.pk).update(revoked_at=timezone.now())
    system_log(
        event="node_credential.revoked",
        message=f"Credential {credential.prefix}… of node {credential.worker_id} revoked",
        worker_id=credential.worker_id,
    )
    return True
