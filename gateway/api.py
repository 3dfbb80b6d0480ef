"""Base classes for the gateway's DRF views."""

from __future__ import annotations

import dataclasses
import hmac
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import exceptions, permissions
from rest_framework.views import APIView

from accounts.models import ApiKey
from billing.errors import AccountSuspended
from billing.ratelimits import rate_hit, rate_refund, ratelimit_headers, request_rate_states
from billing.selectors import Limits, limits_for
from workers_app.credentials import node_credential_authenticate
from workers_app.errors import NodeForbidden


def validated(serializer_class: Any, data: Any) -> dict[str, Any]:
    """Return `data` validated by `serializer_class`. Raises ValidationError (400)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class OwnerApiView(APIView):
    """A view for tenants: `self.owner` is the user of the API key or the dashboard login.

    `self.api_key` is the key used (None for a dashboard login); a session-bound key limits every
    read to its session. Each request counts against the plan's `api_requests_per_minute` for
    its key (a login counts as one key) before the view runs: past it, 429 `rate_limited` with
    Retry-After. Every answer carries the RateLimit-Policy and RateLimit fields of what it counted.
    """

    permission_classes = [permissions.IsAuthenticated]

    @property
    def limits(self) -> Limits:
        """The owner's effective plan limits (no query: loaded with the key)."""
        if not hasattr(self, "_limits"):
            self._limits = limits_for(self.owner)
        return self._limits

    def check_throttles(self, request: Any) -> None:
        if not self.owner.is_authenticated:  # a view open to all counts nothing
            return
        if self.owner.suspended_at is not None:  # a dashboard login; a key was refused before
            raise AccountSuspended()
        limit = self.limits.api_requests_per_minute
        key = self.api_key
        identity = f"key:{key.id}" if key is not None else f"user:{self.owner.id}"
        self.rate_count("api", limit=limit, identity=identity, what="API requests of this key")

    def rate_count(self, policy: str, *, limit: int | None, identity: str, what: str) -> None:
        """Count this request in `policy` (per minute; None: unlimited, nothing counted) and
        raise RateLimited (429, Retry-After) past `limit`; its state goes out in the headers."""
        if limit is None:
            return
        state = rate_hit(policy, limit=limit, identity=identity)
        if state is None:  # the counters are out of reach: not counted
            return
        request_rate_states(self.request).append(state)
        if not state.allowed:
            raise state.refusal(what)

    def rate_uncount(
        self, policy: str, *, limit: int | None, identity: str, retry_after_s: int
    ) -> None:
        """Take back this request's count in `policy` (its work was refused further on, e.g.
        by the node's own pacing) and answer its headers as spent for `retry_after_s`."""
        if limit is None:
            return
        rate_refund(policy, limit=limit, identity=identity)
        states = request_rate_states(self.request)
        for i, state in enumerate(states):
            if state.policy == policy:
                states[i] = dataclasses.replace(state, remaining=0, reset_s=retry_after_s)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in ratelimit_headers(request_rate_states(request)).items():
            response[name] = value
        return response

    @property
    def owner(self) -> Any:
        return self.request.user

    @property
    def api_key(self) -> ApiKey | None:
        auth = self.request.auth
        return auth if isinstance(auth, ApiKey) else None


@dataclass(frozen=True)
class NodeIdentity:
    """Who a node request comes from: `worker_id` of its own credential, or None for the shared
    WORKER_AUTH_TOKEN (every node; kept for deployments moving to per-node credentials)."""

    worker_id: str | None

    @property
    def shared(self) -> bool:
        return self.worker_id is None

    def speaks_for(self, worker_id: str) -> bool:
        """Whether this identity may act as node `worker_id` (the shared token: any node)."""
        return self.worker_id is None or self.worker_id == worker_id

    def require(self, worker_id: str) -> None:
        """Raise NodeForbidden (403) unless this identity may act as node `worker_id`."""
        if not self.speaks_for(worker_id):
            raise NodeForbidden()


def node_identity(request: Any) -> NodeIdentity | None:
    """Read the node credential of `request` (`Authorization: Bearer …`): a per-node secret
    (workers_app.credentials), else the shared WORKER_AUTH_TOKEN (compared in constant time),
    else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    credential = node_credential_authenticate(token)
    if credential is not None:
        return NodeIdentity(worker_id=credential.worker_id)
    shared = settings.WORKER_AUTH_TOKEN
    if shared and hmac.compare_digest(token.encode(), shared.encode()):
        return NodeIdentity(worker_id=None)
    return None


class IsNode(permissions.BasePermission):
    """Allow node agents presenting their own credential or the shared WORKER_AUTH_TOKEN; the
    identity is kept on the request (`NodeApiView.node`)."""

    message = "Invalid node token."

    def has_permission(self, request: Any, view: Any) -> bool:
        identity = node_identity(request)
        request.node_identity = identity
        return identity is not None


class NodeApiView(APIView):
    """A view for node agents (the internal API of node_agent/protocol.py)."""

    authentication_classes: list[type] = []
    permission_classes = [IsNode]

    @property
    def node(self) -> NodeIdentity:
        return self.request.node_identity

    def permission_denied(self, request: Any, message: str | None = None, code: Any = None) -> None:
        raise exceptions.NotAuthenticated("Invalid or missing node token.")

    def get_authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="node"'


class IsOperator(permissions.BasePermission):
    """Allow staff users (operators), by dashboard login or a user-wide API key.

    A key bound to one session is refused (403 `forbidden`) even when its owner is staff: it
    was handed out to use that session, not to run the cluster.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        auth = request.auth
        if isinstance(auth, ApiKey) and auth.session_id is not None:
            raise exceptions.PermissionDenied(
                "This API key is bound to one session; operator actions need a user-wide key."
            )
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
