"""Node agent configuration, read from environment variables.

Every variable has a default except `BACKEND_AUTH_TOKEN`. Paths are relative to the working
directory unless absolute. A bad value raises `ConfigError` at start, naming the variable.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


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

    def __post_init__(self) -> None:
        """Reject values that would only fail later, deep inside a thread."""
        if not self.backend_auth_token:
            raise ConfigError("BACKEND_AUTH_TOKEN is required")
        if not self.worker_id or any(c.isspace() for c in self.worker_id):
            raise ConfigError(f"WORKER_ID must be non-empty without spaces, got {self.worker_id!r}")
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
        }
        for name, value in positive.items():
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
        delays = {
            "SANDBOX_CONNECT_DELAY_S": self.sandbox_connect_delay_s,
            "SANDBOX_DELIVERY_DELAY_S": self.sandbox_delivery_delay_s,
            "SANDBOX_READ_DELAY_S": self.sandbox_read_delay_s,
            "SANDBOX_RECONNECT_DELAY_S": self.sandbox_reconnect_delay_s,
        }
        for name, value in delays.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")

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
        )
