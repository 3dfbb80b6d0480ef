"""Settings of the Prometheus metrics of the web process and the backend worker (README
"Metrics and alerts"); the node agent reads the same METRICS_* variables (node_agent/config.py)."""

from __future__ import annotations

import environ

from gateway.settings.base import env
from node_agent.scrape_access import parse_networks

# `/metrics` is off (404) unless one of these is set: a scrape then needs the token as
# `Authorization: Bearer …`, or a TCP peer address inside the list (addresses or networks).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
try:
    METRICS_ALLOWED_NETWORKS = parse_networks(env.list("METRICS_ALLOWED_IPS", default=[]))
except ValueError as exc:
    raise environ.ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from None
# The backend Celery worker serves its own /metrics here (0: not at all).
METRICS_WORKER_HOST = env.str("METRICS_WORKER_HOST", default="127.0.0.1")
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=8002)
if not 0 <= METRICS_WORKER_PORT <= 65535:
    raise environ.ImproperlyConfigured("METRICS_WORKER_PORT must be 0..65535")
