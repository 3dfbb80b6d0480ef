"""Node agent configuration, read from environment variables.

Every variable has a default except `BACKEND_AUTH_TOKEN`. Paths are relative to the working
directory unless absolute. A bad value raises `ConfigError` at start, naming the variable.
"""

from __future__ import annotations

import math
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# A node id (WORKER_ID): 1-64 ASCII letters, digits, `_`, `.` or `-`, starting with a letter or
# digit. It names the node's queue and its URLs, so the backend checks the same rule
# (workers_app.validators imports it from here): one definition for both sides.
WORKER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
# Fixed segments of the operator routes under /api/admin/workers/: a node with such an id could
# not be reached at /api/admin/workers/<id> (a test checks the list against the URLconf).
RESERVED_WORKER_IDS = frozenset({"register", "rebalance"})


def worker_id_error(worker_id: str) -> str | None:
    """Return why `worker_id` is not a valid node id, or None when it is."""
    if not WORKER_ID_PATTERN.fullmatch(worker_id):
        return (
            "must be 1-64 ASCII letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    if worker_id in RESERVED_WORKER_IDS:
        return f"{worker_id!r} is reserved by the backend's API"
    return None


class ConfigError(ValueError):
    """A configuration variable is missing or has a bad value."""


@dataclass(frozen=True)
class NodeConfig:
    """Settings of one node agent process (one node)."""

    backend_auth_token: str = field(repr=False)
    worker_id: str = "node-local"
    worker_host: str = "127.0.0.1"
    worker_port: int = 8001
    backend_url: str = "http://127.0.0.1:8000"
    celery_broker_url: str = "filesystem://"
    celery_broker_folder: str = "data/broker"
    celery_visibility_timeout_s: int = 600
    celery_broker_key_prefix: str = ""
    # Where answers to RPC tasks go (the backend reads them): Redis, or a folder both share.
    celery_result_backend: str = ""
    node_db_path: str = "data/node-node-local.sqlite3"
    session_storage_path: str = "data/sessions"
    media_storage_path: str = "data/media"
    heartbeat_interval_s: float = 30.0
    max_sessions: int = 100
    concurrency: int = 8
    sandbox_network_path: str = "data/sandbox-network.sqlite3"
    sandbox_qr_first_ttl_s: float = 60.0
    sandbox_qr_ttl_s: float = 20.0
    sandbox_qr_count: int = 6
    sandbox_connect_delay_s: float = 0.5
    sandbox_delivery_delay_s: float = 1.0
    sandbox_read_delay_s: float = 2.0
    sandbox_reconnect_delay_s: float = 2.0
    # PostgreSQL every node of a cluster shares: session credentials and send claims, so a
    # session can move between nodes without a new scan (session_store.py).
    session_store_url: str = field(default="", repr=False)
    neonize_store_url: str = field(default="", repr=False)
    neonize_log_level: str = "WARNING"
    whatsapp_retry_min_s: float = 5.0
    whatsapp_retry_max_s: float = 300.0
    whatsapp_retry_jitter: float = 0.2
    whatsapp_start_spacing_s: float = 0.2
    whatsapp_fd_budget: int = 0
    whatsapp_stop_timeout_s: float = 10.0
    whatsapp_qr_first_ttl_s: float = 60.0
    whatsapp_qr_ttl_s: float = 20.0
    whatsapp_qr_grace_s: float = 10.0
    whatsapp_probe_timeout_s: float = 5.0
    whatsapp_proxy_url: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        """Reject values that would only fail later, deep inside a thread."""
        if not self.backend_auth_token:
            raise ConfigError("BACKEND_AUTH_TOKEN is required")
        problem = worker_id_error(self.worker_id)
        if problem:
            raise ConfigError(f"WORKER_ID {problem}, got {self.worker_id!r}")
        if not 0 <= self.worker_port <= 65535:
            raise ConfigError(f"WORKER_PORT must be 0..65535, got {self.worker_port}")
        if not self.backend_url.startswith(("http://", "https://")):
            raise ConfigError(f"BACKEND_URL must be an http(s) URL, got {self.backend_url!r}")
        positive = {
            "CELERY_VISIBILITY_TIMEOUT_S": self.celery_visibility_timeout_s,
            "WORKER_HEARTBEAT_INTERVAL": self.heartbeat_interval_s,
            "WORKER_MAX_SESSIONS": self.max_sessions,
            "WORKER_CONCURRENCY": self.concurrency,
            "SANDBOX_QR_FIRST_TTL_S": self.sandbox_qr_first_ttl_s,
            "SANDBOX_QR_TTL_S": self.sandbox_qr_ttl_s,
            "SANDBOX_QR_COUNT": self.sandbox_qr_count,
            "WHATSAPP_RETRY_MIN_S": self.whatsapp_retry_min_s,
            "WHATSAPP_STOP_TIMEOUT_S": self.whatsapp_stop_timeout_s,
            "WHATSAPP_QR_FIRST_TTL_S": self.whatsapp_qr_first_ttl_s,
            "WHATSAPP_QR_TTL_S": self.whatsapp_qr_ttl_s,
        }
        for name, value in positive.items():
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
        delays = {
            "SANDBOX_CONNECT_DELAY_S": self.sandbox_connect_delay_s,
            "SANDBOX_DELIVERY_DELAY_S": self.sandbox_delivery_delay_s,
            "SANDBOX_READ_DELAY_S": self.sandbox_read_delay_s,
            "SANDBOX_RECONNECT_DELAY_S": self.sandbox_reconnect_delay_s,
            "WHATSAPP_START_SPACING_S": self.whatsapp_start_spacing_s,
            "WHATSAPP_QR_GRACE_S": self.whatsapp_qr_grace_s,
            "WHATSAPP_FD_BUDGET": self.whatsapp_fd_budget,
            "WHATSAPP_PROBE_TIMEOUT_S": self.whatsapp_probe_timeout_s,
        }
        for name, value in delays.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if not self.whatsapp_retry_min_s <= self.whatsapp_retry_max_s < math.inf:
            raise ConfigError(
                "WHATSAPP_RETRY_MAX_S must be finite and >= WHATSAPP_RETRY_MIN_S, "
                f"got {self.whatsapp_retry_max_s}"
            )
        if not 0 <= self.whatsapp_retry_jitter < 1:
            raise ConfigError(
                f"WHATSAPP_RETRY_JITTER must be 0..1, got {self.whatsapp_retry_jitter}"
            )
        for name, url in (
            ("SESSION_STORE_URL", self.session_store_url),
            ("NEONIZE_STORE_URL", self.neonize_store_url),
        ):
            if url and not url.startswith(("postgres://", "postgresql://")):
                raise ConfigError(f"{name} must be a postgres:// or postgresql:// URL")
        if self.whatsapp_proxy_url and not self.whatsapp_proxy_url.startswith(
            ("socks5://", "http://", "https://")
        ):
            raise ConfigError("WHATSAPP_PROXY_URL must be a socks5:// or http(s):// URL")
        if self.neonize_log_level.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"NEONIZE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                f"got {self.neonize_log_level!r}"
            )

    @property
    def queue(self) -> str:
        """Return the Celery queue this node consumes, `node.<workerId>`."""
        from node_agent.broker import node_queue

        return node_queue(self.worker_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NodeConfig:
        """Build the config from `env` (default `os.environ`).

        Raises ConfigError naming the variable when a value is missing or malformed.
        """
        env = os.environ if env is None else env

        def get(name: str, default: T, parse: Callable[[str], T]) -> T:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return default
            try:
                return parse(raw.strip())
            except ValueError:
                raise ConfigError(f"{name} has a bad value: {raw!r}") from None

        worker_id = get("WORKER_ID", f"node-{socket.gethostname()}", str)
        broker_default = env.get("REDIS_URL") or "filesystem://"
        data_dir = env.get("DATA_DIR") or "data"
        result_default = env.get("REDIS_URL") or (
            "file://" + os.path.join(os.path.abspath(data_dir), "celery-results")
        )
        # A session that moves keeps its WhatsApp device keys only if every node reads them
        # from the same place: the shared store's database, unless NEONIZE_STORE_URL says where.
        session_store_url = get("SESSION_STORE_URL", "", str)
        return cls(
            backend_auth_token=env.get("BACKEND_AUTH_TOKEN", "").strip(),
            worker_id=worker_id,
            worker_host=get("WORKER_HOST", "127.0.0.1", str),
            worker_port=get("WORKER_PORT", 8001, int),
            backend_url=get("BACKEND_URL", "http://127.0.0.1:8000", str).rstrip("/"),
            celery_broker_url=get("CELERY_BROKER_URL", broker_default, str),
            celery_broker_folder=get("CELERY_BROKER_FOLDER", "data/broker", str),
            celery_visibility_timeout_s=get("CELERY_VISIBILITY_TIMEOUT_S", 600, int),
            celery_broker_key_prefix=get("CELERY_BROKER_KEY_PREFIX", "", str),
            celery_result_backend=get("CELERY_RESULT_BACKEND", result_default, str),
            node_db_path=get("NODE_DB_PATH", f"data/node-{worker_id}.sqlite3", str),
            session_storage_path=get("SESSION_STORAGE_PATH", "data/sessions", str),
            media_storage_path=get("MEDIA_STORAGE_PATH", "data/media", str),
            heartbeat_interval_s=get("WORKER_HEARTBEAT_INTERVAL", 30.0, float),
            max_sessions=get("WORKER_MAX_SESSIONS", 100, int),
            concurrency=get("WORKER_CONCURRENCY", 8, int),
            sandbox_network_path=get("SANDBOX_NETWORK_PATH", "data/sandbox-network.sqlite3", str),
            sandbox_qr_first_ttl_s=get("SANDBOX_QR_FIRST_TTL_S", 60.0, float),
            sandbox_qr_ttl_s=get("SANDBOX_QR_TTL_S", 20.0, float),
            sandbox_qr_count=get("SANDBOX_QR_COUNT", 6, int),
            sandbox_connect_delay_s=get("SANDBOX_CONNECT_DELAY_S", 0.5, float),
            sandbox_delivery_delay_s=get("SANDBOX_DELIVERY_DELAY_S", 1.0, float),
            sandbox_read_delay_s=get("SANDBOX_READ_DELAY_S", 2.0, float),
            sandbox_reconnect_delay_s=get("SANDBOX_RECONNECT_DELAY_S", 2.0, float),
            session_store_url=session_store_url,
            neonize_store_url=get("NEONIZE_STORE_URL", session_store_url, str),
            neonize_log_level=get("NEONIZE_LOG_LEVEL", "WARNING", str).upper(),
            whatsapp_retry_min_s=get("WHATSAPP_RETRY_MIN_S", 5.0, float),
            whatsapp_retry_max_s=get("WHATSAPP_RETRY_MAX_S", 300.0, float),
            whatsapp_retry_jitter=get("WHATSAPP_RETRY_JITTER", 0.2, float),
            whatsapp_start_spacing_s=get("WHATSAPP_START_SPACING_S", 0.2, float),
            whatsapp_fd_budget=get("WHATSAPP_FD_BUDGET", 0, int),
            whatsapp_stop_timeout_s=get("WHATSAPP_STOP_TIMEOUT_S", 10.0, float),
            whatsapp_qr_first_ttl_s=get("WHATSAPP_QR_FIRST_TTL_S", 60.0, float),
            whatsapp_qr_ttl_s=get("WHATSAPP_QR_TTL_S", 20.0, float),
            whatsapp_qr_grace_s=get("WHATSAPP_QR_GRACE_S", 10.0, float),
            whatsapp_probe_timeout_s=get("WHATSAPP_PROBE_TIMEOUT_S", 5.0, float),
            whatsapp_proxy_url=get("WHATSAPP_PROXY_URL", "", str),
        )
