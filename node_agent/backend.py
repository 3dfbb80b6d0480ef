"""HTTP client for the backend's node endpoints (DESIGN.md §3.1).

Every request carries `Authorization: Bearer <BACKEND_AUTH_TOKEN>` and a JSON body. The client
never logs the token. `requests.Session` is not documented as thread-safe, so each thread that
talks to the backend (outbox sender, heartbeat) builds its own client.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

import requests

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0

SESSION_STATUS_PATH = "/api/webhooks/session-status"
MESSAGE_STATUS_PATH = "/api/webhooks/message-status"
MESSAGE_RECEIVED_PATH = "/api/webhooks/message-received"
REGISTER_PATH = "/api/admin/workers/register"


def heartbeat_path(worker_id: str) -> str:
    """Return the heartbeat URL path of a worker."""
    return f"/api/admin/workers/{worker_id}/heartbeat"


def backoff_s(
    attempt: int, *, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S
) -> float:
    """Return a delay for retry number `attempt` (1-based): exponential, capped, full jitter.

    The delay is uniform in [cap/2 .. cap] of the exponential value, so retries never bunch at 0
    yet nodes restarted together spread out.
    """
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Response:
    """Outcome of one request: `status` is the HTTP code, or None when no answer came."""

    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        """Return True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Return True when a later try may succeed: no answer, 5xx, 408 or 429."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)


class BackendClient:
    """Send JSON to the backend at `base_url` with the worker's Bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self._http.headers["User-Agent"] = "wa-gateway-node-agent"

    def request(self, method: str, path: str, body: dict[str, Any]) -> Response:
        """Send `body` to `path`; return a Response and never raise on network errors."""
        try:
            answer = self._http.request(
                method,
                self._base_url + path,
                json=body,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except requests.RequestException as exc:
            return Response(status=None, error=type(exc).__name__)
        return Response(status=answer.status_code, error="" if answer.ok else answer.text[:300])

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()
