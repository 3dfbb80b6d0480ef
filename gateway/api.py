"""Base classes for the gateway's DRF views."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from rest_framework import exceptions, permissions
from rest_framework.views import APIView

from accounts.models import ApiKey


class OwnerApiView(APIView):
    """A view for tenants: `self.owner` is the user of the API key or the dashboard login.

    `self.api_key` is the key used (None for a dashboard login); a session-bound key limits every
    read to its session.
    """

    permission_classes = [permissions.IsAuthenticated]

    @property
    def owner(self) -> Any:
        return self.request.user

    @property
    def api_key(self) -> ApiKey | None:
        auth = self.request.auth
        return auth if isinstance(auth, ApiKey) else None


class IsNode(permissions.BasePermission):
    """Allow node agents presenting `Authorization: Bearer <WORKER_AUTH_TOKEN>`.

    The token is compared in constant time.
    """

    message = "Invalid node token."

    def has_permission(self, request: Any, view: Any) -> bool:
        expected = settings.WORKER_AUTH_TOKEN
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not expected or scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), expected.encode())


class NodeApiView(APIView):
    """A view for node agents (the internal API of node_agent/protocol.py)."""

    authentication_classes: list[type] = []
    permission_classes = [IsNode]

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
