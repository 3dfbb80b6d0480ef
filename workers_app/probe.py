"""A second opinion before a node is declared dead: ask the node's own health server.

Heartbeats reach the backend through its web process. When that process (or the path to it) is
down, every node misses its heartbeats at once although every node is fine; declaring them dead
would move or drop all their sessions for the backend's own outage. So a node that missed its
heartbeats is asked directly (`GET <healthUrl>`, the URL it registered, see node_agent/health.py)
and counts as dead only if it does not answer as itself.

The health URL comes from an authenticated node registration and points at operator
infrastructure (usually a private address), so it is not subject to the public-URL checks of
`gateway.netsafety`; no redirect is followed and the answer is read only up to a small size.
"""

from __future__ import annotations

import json
import logging

import requests

log = logging.getLogger(__name__)

PROBE_MAX_BYTES = 4096


def node_answers_health(
    *, worker_id: str, health_url: str, timeout_s: float, instance_id: str = ""
) -> bool:
    """Return True if `health_url` answers 200 with `{"workerId": worker_id, ...}`.

    With `instance_id`, the answer's `instanceId` must be it too: the very process that
    registered it, not a later one of the same node. False when the URL is empty, refuses,
    times out, answers something else or another node's id (a port reused by a different
    process). Never raises.
    """
    if not health_url.startswith(("http://", "https://")):
        return False
    try:
        with requests.get(
            health_url, timeout=timeout_s, allow_redirects=False, stream=True
        ) as response:
            if response.status_code != 200:
                return False
            raw = response.raw.read(PROBE_MAX_BYTES, decode_content=True)
        body = json.loads(raw)
    except (requests.RequestException, ValueError, OSError) as exc:
        log.info("node %s does not answer its health URL: %s", worker_id, exc)
        return False
    if not isinstance(body, dict) or body.get("workerId") != worker_id:
        return False
    return not instance_id or body.get("instanceId") == instance_id
