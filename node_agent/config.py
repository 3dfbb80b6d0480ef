"""Node agent configuration, read from environment variables.

Each NodeConfig field names its variable and holds its default (`_var`); `from_env` reads them
all, and only the few defaults that depend on other variables are written apart (`DERIVED`).
Every variable has a default except `BACKEND_AUTH_TOKEN`. Paths are relative to the working
directory unless absolute. A bad value raises `ConfigError` at start, naming the variable.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from node_agent import protocol
from node_agent.scrape_access import Network, parse_networks

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A configuration variable is missing or has a bad value."""


def _var(name: str, default: Any = dataclasses.MISSING, *, secret: bool = False) -> Any:
    """Declare a config field read from environment variable `name`.

    `secret`: kept out of the repr (tokens, URLs that may hold a password).
    """
    return dataclasses.field(default=default, repr=not secret, metadata={"env": name})


@dataclass(frozen=True)
class NodeConfig:
    """Settings of one node agent process (one node)."""

    backend_auth_token: str = _var("BACKEND_AUTH_TOKEN", secret=True)
    worker_id: str = _var("WORKER_ID", "node-local")
    worker_host: str = _var("WORKER_HOST", "127.0.0.1")
    worker_port: int = _var("WORKER_PORT", 8001)
    backend_url: str = _var("BACKEND_URL", "http://127.0.0.1:8000")
    celery_broker_url: str = _var("CELERY_BROKER_URL", "filesystem://")
    celery_broker_folder: str = _var("CELERY_BROKER_FOLDER", "data/broker")
    celery_visibility_timeout_s: int = _var("CELERY_VISIBILITY_TIMEOUT_S", 600)
    celery_broker_key_prefix: str = _var("CELERY_BROKER_KEY_PREFIX", "")
    # Where answers to RPC tasks go (the backend reads them): Redis, or a folder both share.
    celery_result_backend: str = _var("CELERY_RESULT_BACKEND", "")
    node_db_path: str = _var("NODE_DB_PATH", "data/node-node-local.sqlite3")
    session_storage_path: str = _var("SESSION_STORAGE_PATH", "data/sessions")
    media_storage_path: str = _var("MEDIA_STORAGE_PATH", "data/media")
    heartbeat_interval_s: float = _var("WORKER_HEARTBEAT_INTERVAL", 30.0)
    max_sessions: int = _var("WORKER_MAX_SESSIONS", 100)
    concurrency: int = _var("WORKER_CONCURRENCY", 8)
    # Threads sending from the send lanes (fair across sessions, ordered per chat).
    send_threads: int = _var("WORKER_SEND_THREADS", 8)
    # A send that cannot go yet (session not connected) waits this long, doubling up to the max.
    send_retry_min_s: float = _var("WORKER_SEND_RETRY_MIN_S", 2.0)
    send_retry_max_s: float = _var("WORKER_SEND_RETRY_MAX_S", 60.0)
    # How often the node's traffic per completed UTC hour is counted and reported (usage.py).
    usage_report_interval_s: float = _var("WORKER_USAGE_REPORT_INTERVAL_S", 3600.0)
    # Under load, how long the outbox waits for a batch to fill before it sends (outbox.py).
    report_linger_s: float = _var("WORKER_REPORT_LINGER_S", 0.05)
    sandbox_network_path: str = _var("SANDBOX_NETWORK_PATH", "data/sandbox-network.sqlite3")
    sandbox_qr_first_ttl_s: float = _var("SANDBOX_QR_FIRST_TTL_S", 60.0)
    sandbox_qr_ttl_s: float = _var("SANDBOX_QR_TTL_S", 20.0)
    sandbox_qr_count: int = _var("SANDBOX_QR_COUNT", 6)
    sandbox_connect_delay_s: float = _var("SANDBOX_CONNECT_DELAY_S", 0.5)
    sandbox_delivery_delay_s: float = _var("SANDBOX_DELIVERY_DELAY_S", 1.0)
    sandbox_read_delay_s: float = _var("SANDBOX_READ_DELAY_S", 2.0)
    sandbox_reconnect_delay_s: float = _var("SANDBOX_RECONNECT_DELAY_S", 2.0)
    # PostgreSQL every node of a cluster shares: session credentials and send claims, so a
    # session can move between nodes without a new scan (session_store.py).
    session_store_url: str = _var("SESSION_STORE_URL", "", secret=True)
    # Where the WhatsApp engine keeps each session's device keys (its device stores): SQLite
    # files under SESSION_STORAGE_PATH when empty, else this PostgreSQL database.
    neonize_store_url: str = _var("NEONIZE_STORE_URL", "", secret=True)
    neonize_log_level: str = _var("NEONIZE_LOG_LEVEL", "WARNING")
    whatsapp_retry_min_s: float = _var("WHATSAPP_RETRY_MIN_S", 5.0)
    whatsapp_retry_max_s: float = _var("WHATSAPP_RETRY_MAX_S", 300.0)
    whatsapp_retry_jitter: float = _var("WHATSAPP_RETRY_JITTER", 0.2)
    whatsapp_start_spacing_s: float = _var("WHATSAPP_START_SPACING_S", 0.2)
    whatsapp_fd_budget: int = _var("WHATSAPP_FD_BUDGET", 0)
    whatsapp_stop_timeout_s: float = _var("WHATSAPP_STOP_TIMEOUT_S", 10.0)
    whatsapp_qr_first_ttl_s: float = _var("WHATSAPP_QR_FIRST_TTL_S", 60.0)
    whatsapp_qr_ttl_s: float = _var("WHATSAPP_QR_TTL_S", 20.0)
    whatsapp_qr_grace_s: float = _var("WHATSAPP_QR_GRACE_S", 10.0)
    whatsapp_probe_timeout_s: float = _var("WHATSAPP_PROBE_TIMEOUT_S", 5.0)
    # How often the heartbeat's "can this node reach WhatsApp" is probed again; 0 = never.
    whatsapp_reachability_s: float = _var("WHATSAPP_REACHABILITY_S", 300.0)
    whatsapp_proxy_url: str = _var("WHATSAPP_PROXY_URL", "", secret=True)
    # GET /metrics on the health server: off (404) unless one is set (node_agent/metrics.py).
    metrics_token: str = _var("METRICS_TOKEN", "", secret=True)
    metrics_allowed_ips: str = _var("METRICS_ALLOWED_IPS", "")  # addresses or networks, commas

    def __post_init__(self) -> None:
        """Reject values that would only fail later, deep inside a thread."""
        if not self.backend_auth_token:
            raise ConfigError("BACKEND_AUTH_TOKEN is required")
        problem = protocol.worker_id_error(self.worker_id)
        if problem:
            raise ConfigError(f"WORKER_ID {problem}, got {self.worker_id!r}")
        if not 0 <= self.worker_port <= 65535:
            raise ConfigError(f"WORKER_PORT must be 0..65535, got {self.worker_port}")
        if not self.backend_url.startswith(("http://", "https://")):
            raise ConfigError(f"BACKEND_URL must be an http(s) URL, got {self.backend_url!r}")
        for item in dataclasses.fields(self):
            name, value = item.metadata["env"], getattr(self, item.name)
            if name in POSITIVE and (not math.isfinite(value) or value <= 0):
                raise ConfigError(f"{name} must be > 0, got {value}")
            if name in NOT_NEGATIVE and (not math.isfinite(value) or value < 0):
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
        try:
            self.metrics_networks  # noqa: B018 (parsed to be checked)
        except ValueError as exc:
            raise ConfigError(f"METRICS_ALLOWED_IPS: {exc}") from None
        if self.neonize_log_level.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"NEONIZE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                f"got {self.neonize_log_level!r}"
            )

    @property
    def metrics_networks(self) -> list[Network]:
        """METRICS_ALLOWED_IPS parsed. Raises ValueError on a bad entry."""
        return parse_networks(self.metrics_allowed_ips.split(","))

    @property
    def queue(self) -> str:
        """Return the Celery queue this node consumes, `node.<workerId>`."""
        return protocol.node_queue(self.worker_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NodeConfig:
        """Build the config from `env` (default `os.environ`): each field from its variable.

        A variable unset or blank takes its field's default, or its DERIVED one; any other
        value is stripped and parsed by the field's type (int, float or str). Then BACKEND_URL
        loses a trailing `/` and NEONIZE_LOG_LEVEL is upper-cased. Raises ConfigError naming
        the variable when a value is missing or malformed.
        """
        env = os.environ if env is None else env
        types = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # in declaration order, which DERIVED relies on
            name = item.metadata["env"]
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                derived = DERIVED.get(name)
                values[item.name] = derived(env, values) if derived else item.default
                continue
            try:
                values[item.name] = types[item.name](raw.strip())
            except ValueError:
                raise ConfigError(f"{name} has a bad value: {raw!r}") from None
        values["backend_url"] = values["backend_url"].rstrip("/")
        values["neonize_log_level"] = values["neonize_log_level"].upper()
        return cls(**values)


def _data(env: Mapping[str, str], name: str) -> str:
    """Return `name` under DATA_DIR (default `data`), where the backend keeps its files too."""
    return os.path.join(env.get("DATA_DIR") or "data", name)


def _result_backend(env: Mapping[str, str], values: dict[str, Any]) -> str:
    return env.get("REDIS_URL") or "file://" + os.path.abspath(_data(env, "celery-results"))


# The defaults of `from_env` that are not the fields' own, by variable: each is computed from
# the environment and from the values read so far (fields declared earlier).
DERIVED: dict[str, Callable[[Mapping[str, str], dict[str, Any]], Any]] = {
    # Required: blank here, so that __post_init__ says it is missing.
    "BACKEND_AUTH_TOKEN": lambda env, values: "",
    # One node per machine unless told otherwise, named after the machine.
    "WORKER_ID": lambda env, values: f"node-{socket.gethostname()}",
    # Its own SQLite file per node, so several nodes can share one data folder.
    "NODE_DB_PATH": lambda env, values: _data(env, f"node-{values['worker_id']}.sqlite3"),
    # The node's files under DATA_DIR, beside the backend's (the embedded broker's folder must
    # be the one the backend writes to).
    "CELERY_BROKER_FOLDER": lambda env, values: _data(env, "broker"),
    "SESSION_STORAGE_PATH": lambda env, values: _data(env, "sessions"),
    "MEDIA_STORAGE_PATH": lambda env, values: _data(env, "media"),
    "SANDBOX_NETWORK_PATH": lambda env, values: _data(env, "sandbox-network.sqlite3"),
    # Broker and RPC answers where the backend has them too: Redis when REDIS_URL is set, else
    # the embedded broker and a results folder under DATA_DIR.
    "CELERY_BROKER_URL": lambda env, values: env.get("REDIS_URL") or "filesystem://",
    "CELERY_RESULT_BACKEND": _result_backend,
    # A session that moves keeps its WhatsApp device keys only if every node reads them from
    # the same place: the shared store's database, unless NEONIZE_STORE_URL says where.
    "NEONIZE_STORE_URL": lambda env, values: values["session_store_url"],
}
# Variables whose value must be a finite number above 0, or at least 0.
POSITIVE = frozenset(
    {
        "CELERY_VISIBILITY_TIMEOUT_S",
        "WORKER_HEARTBEAT_INTERVAL",
        "WORKER_MAX_SESSIONS",
        "WORKER_CONCURRENCY",
        "WORKER_SEND_THREADS",
        "WORKER_SEND_RETRY_MIN_S",
        "WORKER_SEND_RETRY_MAX_S",
        "WORKER_USAGE_REPORT_INTERVAL_S",
        "SANDBOX_QR_FIRST_TTL_S",
        "SANDBOX_QR_TTL_S",
        "SANDBOX_QR_COUNT",
        "WHATSAPP_RETRY_MIN_S",
        "WHATSAPP_STOP_TIMEOUT_S",
        "WHATSAPP_QR_FIRST_TTL_S",
        "WHATSAPP_QR_TTL_S",
    }
)
NOT_NEGATIVE = frozenset(
    {
        "WORKER_REPORT_LINGER_S",
        "SANDBOX_CONNECT_DELAY_S",
        "SANDBOX_DELIVERY_DELAY_S",
        "SANDBOX_READ_DELAY_S",
        "SANDBOX_RECONNECT_DELAY_S",
        "WHATSAPP_START_SPACING_S",
        "WHATSAPP_QR_GRACE_S",
        "WHATSAPP_FD_BUDGET",
        "WHATSAPP_PROBE_TIMEOUT_S",
    }
)
