"""Metrics on `make run` (manage.py supervise, the embedded default): the web process (two
gunicorn workers: every scrape sums both), the backend worker and the node each serve /metrics
behind METRICS_TOKEN, and the deploy/ files query only series these real processes export."""

from __future__ import annotations

import os
import signal

from tests.deploy_files import queried
from tests.e2e.stack import BIN, Api, Stack, base_env, free_port, wait_for
from tests.metrics_scrape import Scrape, get

TOKEN = "e2e-metrics-token-0c9b8a"


def test_every_process_of_make_run_serves_its_metrics(tmp_path):
    web_port, worker_port, node_port = free_port(), free_port(), free_port()
    env = base_env(
        tmp_path,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        BACKEND_URL=f"http://127.0.0.1:{web_port}",
        WORKER_ID="e2e-node-1",
        NODE_DB_PATH=str(tmp_path / "node.sqlite3"),
        SESSION_STORAGE_PATH=str(tmp_path / "sessions"),
        MEDIA_STORAGE_PATH=str(tmp_path / "node-media"),
        WORKER_PORT=str(node_port),
        METRICS_TOKEN=TOKEN,
        METRICS_WORKER_PORT=str(worker_port),
        WEB_CONCURRENCY="2",
    )
    stack = Stack(tmp=tmp_path, env=env, base_url=f"http://127.0.0.1:{web_port}")
    stack.manage("migrate", "--noinput", "-v0")
    stack.spawn("run", [str(BIN / "python"), "manage.py", "supervise", "--port", str(web_port)])
    urls = {
        "gateway-web": f"{stack.base_url}/metrics",
        "gateway-worker": f"http://127.0.0.1:{worker_port}/metrics",
        "gateway-node": f"http://127.0.0.1:{node_port}/metrics",
    }
    try:
        stack.wait_ready(timeout_s=90)
        wait_for(lambda: get(urls["gateway-worker"], TOKEN).ok, timeout_s=30, what="worker")
        for url in urls.values():
            assert get(url).status_code == 403
            assert get(url, "wrong").status_code == 403

        api = Api(stack.base_url, stack.create_api_key("metrics@example.com"))
        session_id = api.link_sandbox("Metrics")
        sent = api.ok(
            "POST",
            "/api/v1/messages",
            json={"sessionId": session_id, "to": "+15550003333"} | {"text": "hi"},
        )
        wait_for(
            lambda: api.ok("GET", f"/api/v1/messages/{sent['messageId']}")["status"]
            in ("sent", "delivered", "read"),
            timeout_s=30,
            what="sent",
        )

        # Several scrapes, answered by either gunicorn worker: each sees the one send.
        for _ in range(6):
            web = Scrape.of(urls["gateway-web"], TOKEN)
            assert web.value("gateway_message_send_latency_seconds_count") == 1
            assert web.value("gateway_messages_total", status="queued") == 1
        assert web.value("gateway_sessions", status="CONNECTED", engine="sandbox") == 1
        assert web.value("gateway_queue_depth", queue="node.e2e-node-1") is not None
        assert web.value("gateway_node_online", node="e2e-node-1") == 1
        assert web.value("gateway_broker_up") == 1

        worker = Scrape.of(urls["gateway-worker"], TOKEN)
        assert worker.value("process_open_fds") > 0
        assert worker.value("gateway_webhook_attempts_total", outcome="success") == 0
        node = Scrape.of(urls["gateway-node"], TOKEN)
        assert node.value("gateway_node_outbox_depth") is not None
        assert node.value("gateway_node_sessions_connected") == 1
        assert node.value("process_open_fds") > 0
        assert node.value("process_resident_memory_bytes") > 0

        scrapes = {"gateway-web": web, "gateway-worker": worker, "gateway-node": node}
        everywhere = set().union(*(s.names() for s in scrapes.values()))
        missing = {
            (name, job)
            for name, job in queried()
            if name not in (scrapes[job].names() if job else everywhere)
        }
        assert not missing, sorted(missing, key=str)
    except BaseException:
        print(stack.log_tails(80))
        raise
    finally:
        stack.stop("run", sig=signal.SIGINT, timeout_s=30)
    # gunicorn's master removed its multiprocess folder on the way out.
    assert not list((tmp_path / "data" / "metrics").glob("web-*"))
