import pytest

from node_agent.config import ConfigError, NodeConfig


def test_from_env_defaults():
    config = NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t", "WORKER_ID": "n1"})
    assert config.worker_port == 8001
    assert config.worker_host == "127.0.0.1"
    assert config.backend_url == "http://127.0.0.1:8000"
    assert config.celery_broker_url == "filesystem://"
    assert config.node_db_path == "data/node-n1.sqlite3"
    assert config.queue == "node.n1"
    assert config.heartbeat_interval_s == 30.0
    assert (config.sandbox_qr_first_ttl_s, config.sandbox_qr_ttl_s) == (60.0, 20.0)
    assert config.sandbox_qr_count == 6


def test_worker_id_defaults_to_hostname(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "box")
    assert NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t"}).worker_id == "node-box"


def test_broker_falls_back_to_redis_url():
    config = NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t", "REDIS_URL": "redis://r:6379/0"})
    assert config.celery_broker_url == "redis://r:6379/0"


def test_from_env_parses_values():
    config = NodeConfig.from_env(
        {
            "BACKEND_AUTH_TOKEN": "t",
            "WORKER_PORT": "0",
            "WORKER_HEARTBEAT_INTERVAL": "0.5",
            "SANDBOX_QR_TTL_S": "0.3",
            "BACKEND_URL": "http://b:9000/",
        }
    )
    assert config.worker_port == 0
    assert config.heartbeat_interval_s == 0.5
    assert config.sandbox_qr_ttl_s == 0.3
    assert config.backend_url == "http://b:9000"


def test_token_is_required():
    with pytest.raises(ConfigError, match="BACKEND_AUTH_TOKEN"):
        NodeConfig.from_env({})


def test_token_is_not_in_repr():
    assert "s3cret" not in repr(NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "s3cret"}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKER_PORT", "http"),
        ("WORKER_PORT", "70000"),
        ("WORKER_HEARTBEAT_INTERVAL", "0"),
        ("WORKER_HEARTBEAT_INTERVAL", "nan"),
        ("WORKER_MAX_SESSIONS", "-1"),
        ("WORKER_CONCURRENCY", "two"),
        ("SANDBOX_QR_COUNT", "0"),
        ("SANDBOX_READ_DELAY_S", "-1"),
        ("BACKEND_URL", "ftp://x"),
        ("WORKER_ID", "has space"),
    ],
)
def test_bad_values_are_rejected(name, value):
    with pytest.raises(ConfigError, match=name):
        NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t", name: value})


def test_session_store_url_is_read_and_hidden():
    url = "postgresql://node:s3cret@db:5432/gateway"
    config = NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t", "SESSION_STORE_URL": url})
    assert config.session_store_url == url
    assert "s3cret" not in repr(config)


def test_session_store_is_off_by_default():
    config = NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t"})
    assert (config.session_store_url, config.neonize_store_url) == ("", "")


def test_neonize_store_defaults_to_the_session_store():
    url = "postgres://node@db:5432/gateway"
    config = NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t", "SESSION_STORE_URL": url})
    assert config.neonize_store_url == url


def test_explicit_neonize_store_wins_over_the_session_store():
    config = NodeConfig.from_env(
        {
            "BACKEND_AUTH_TOKEN": "t",
            "SESSION_STORE_URL": "postgres://node@db:5432/gateway",
            "NEONIZE_STORE_URL": "postgres://node@db:5432/whatsmeow",
        }
    )
    assert config.session_store_url == "postgres://node@db:5432/gateway"
    assert config.neonize_store_url == "postgres://node@db:5432/whatsmeow"


@pytest.mark.parametrize(
    "url", ["sqlite:///data/store.sqlite3", "mysql://db/gateway", "db:5432/gateway"]
)
def test_session_store_must_be_postgres(url):
    with pytest.raises(ConfigError, match="SESSION_STORE_URL"):
        NodeConfig.from_env({"BACKEND_AUTH_TOKEN": "t", "SESSION_STORE_URL": url})
    with pytest.raises(ConfigError, match="SESSION_STORE_URL"):
        NodeConfig(backend_auth_token="t", session_store_url=url)


@pytest.mark.parametrize(
    "worker_id",
    ["node/4", "x" * 65, "nodé", "register", "rebalance", "node-x\n", "-node", ".node", ""],
)
def test_worker_id_the_backend_would_refuse_is_rejected(worker_id):
    with pytest.raises(ConfigError, match="WORKER_ID"):
        NodeConfig(backend_auth_token="t", worker_id=worker_id)


@pytest.mark.parametrize("worker_id", ["n", "node-1", "Node_2.eu-west", "x" * 64, "registers"])
def test_worker_id_the_backend_accepts_is_accepted(worker_id):
    assert NodeConfig(backend_auth_token="t", worker_id=worker_id).worker_id == worker_id


def test_the_nodes_files_follow_data_dir_as_the_backends_do():
    config = NodeConfig.from_env(
        {"BACKEND_AUTH_TOKEN": "t", "WORKER_ID": "n1", "DATA_DIR": "/srv/gw"}
    )
    assert config.celery_broker_folder == "/srv/gw/broker"  # the folder the backend writes to
    assert config.node_db_path == "/srv/gw/node-n1.sqlite3"
    assert (config.session_storage_path, config.media_storage_path) == (
        "/srv/gw/sessions",
        "/srv/gw/media",
    )
    assert config.sandbox_network_path == "/srv/gw/sandbox-network.sqlite3"
    assert config.celery_result_backend == "file:///srv/gw/celery-results"
