"""The node's Celery app: its Redis transport (one client per channel) and quiet task logs."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kombu import Connection

from node_agent import redis_transport
from node_agent.broker import broker_settings
from node_agent.celery_app import REDIS_TRANSPORT

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("needs Redis (REDIS_URL)")
    return url


def test_messages_are_taken_and_acknowledged_through_one_client(redis_url, tmp_path):
    settings = broker_settings(
        redis_url, folder=str(tmp_path), key_prefix=f"test-{uuid.uuid4().hex}:"
    )
    with Connection(
        redis_url, transport=REDIS_TRANSPORT, transport_options=settings["broker_transport_options"]
    ) as conn:
        channel = conn.default_channel
        assert isinstance(channel, redis_transport.Channel)
        assert channel._create_client() is channel._create_client()
        queue = conn.SimpleQueue(f"node.test-{uuid.uuid4().hex}")
        for n in range(3):
            queue.put({"n": n})
        for n in range(3):
            message = queue.get(timeout=5)
            assert message.payload == {"n": n}
            message.ack()
        # Nothing left unacknowledged: the acks went through the shared client.
        assert channel.client.zcard(channel.unacked_index_key) == 0
        assert channel.client.hlen(channel.unacked_key) == 0
        queue.close()


def test_the_node_app_uses_it_for_redis_and_logs_no_line_per_task(tmp_path):
    code = (
        "import logging\n"
        "from node_agent.config import NodeConfig\n"
        "from node_agent.celery_app import REDIS_TRANSPORT, create_celery_app\n"
        f"folder = {str(tmp_path)!r}\n"
        "app = create_celery_app(NodeConfig(backend_auth_token='t',"
        " celery_broker_url='redis://127.0.0.1:6379/15', celery_broker_folder=folder))\n"
        "assert app.conf.broker_transport == REDIS_TRANSPORT, app.conf.broker_transport\n"
        "strategy = logging.getLogger('celery.worker.strategy')\n"
        "assert not strategy.isEnabledFor(logging.INFO)\n"
        "app = create_celery_app(NodeConfig(backend_auth_token='t', celery_broker_folder=folder))\n"
        "assert app.conf.broker_transport != REDIS_TRANSPORT\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
