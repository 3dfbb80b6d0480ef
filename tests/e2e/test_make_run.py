"""`make run` on the embedded default: a killed backend worker comes back, recorded; a quota
holds exactly across its web processes."""

from __future__ import annotations

import os
import re
import signal
import threading

import psutil
import requests

from tests.e2e.stack import BIN, Api, Stack, base_env, free_port, wait_for


def _pids(log: str, name: str) -> list[int]:
    return [int(pid) for pid in re.findall(rf"{name} started \(pid=(\d+)\)", log)]


def _embedded(tmp_path) -> Stack:
    """`manage.py supervise` (what `make run` runs) on SQLite and the embedded broker."""
    port = free_port()
    env = base_env(
        tmp_path,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        BACKEND_URL=f"http://127.0.0.1:{port}",
        WORKER_PORT=str(free_port()),
    )
    stack = Stack(tmp=tmp_path, env=env, base_url=f"http://127.0.0.1:{port}")
    stack.manage("migrate", "--noinput", "-v0")
    stack.spawn("run", [str(BIN / "python"), "manage.py", "supervise", "--port", str(port)])
    return stack


def test_a_killed_backend_worker_is_restarted_and_written_to_the_system_log(tmp_path, request):
    stack = _embedded(tmp_path)
    log = stack.logs["run"]
    try:
        stack.wait_ready(timeout_s=90)
        [backend] = _pids(log.read_text(), "backend")
        os.kill(backend, signal.SIGKILL)

        restarted = wait_for(
            lambda: _pids(log.read_text(), "backend")[1:], timeout_s=30, what="a new backend"
        )
        assert restarted[0] != backend
        recorded = stack.manage(
            "shell",
            "-c",
            "from gateway.models import SystemLog; "
            "e = SystemLog.objects.get(event='process.exited'); "
            "print(e.level, e.data['process'], e.data['returncode'], '|', e.message)",
        )
        assert "ERROR backend -9 | backend killed by SIGKILL" in recorded
        assert "restarting in 1 s" in recorded

        # The new worker is up and does the backend's work (beat's tasks succeed again).
        wait_for(
            lambda: re.search(
                r"check_node_health\[[^]]+\] succeeded",
                log.read_text().split(f"backend started (pid={restarted[0]})")[1],
            )
            and requests.get(f"{stack.base_url}/health", timeout=2).status_code == 200,
            timeout_s=30,
            what="beat's health check run by the new worker",
        )
        children = [_pids(log.read_text(), name)[-1] for name in ("web", "backend", "node")]
    except BaseException:
        print(stack.log_tails(80))
        raise
    finally:
        stack.stop("run", sig=signal.SIGINT, timeout_s=30)
    assert not [pid for pid in children if psutil.pid_exists(pid)], "Ctrl-C left processes behind"
    assert "SIGINT received: stopping every process" in log.read_text()


def test_twenty_concurrent_sends_at_a_quota_accept_exactly_the_quota_on_sqlite(tmp_path):
    stack = _embedded(tmp_path)
    try:
        stack.wait_ready(timeout_s=90)
        api = Api(stack.base_url, stack.create_api_key("edge@example.com", plan="ENTERPRISE"))
        sid = api.link_sandbox("edge")
        stack.manage(  # 3 sends of today's 10 are used: 7 left for the 20 that race
            "shell",
            "-c",
            "from accounts.models import User; from billing.models import PlanOverride; "
            "from billing.services import quota_recount; "
            "u = User.objects.get(email='edge@example.com'); u.plan_id = 'PRO'; u.save(); "
            "PlanOverride.objects.create(user=u, messages_per_day=10, "
            "api_requests_per_minute=1000); quota_recount(user_id=u.id)",
        )
        body = {"sessionId": sid, "to": "+15550001234", "type": "text", "text": "edge"}
        for _ in range(3):
            api.ok("POST", "/api/v1/messages", json=body)
        start, answers = threading.Barrier(20), []

        def send() -> None:
            own = Api(stack.base_url, api.http.headers["Authorization"].split(" ", 1)[1])
            start.wait()
            status, answer = own.call("POST", "/api/v1/messages", json=body)
            answers.append((status, answer.get("error", {}).get("code")))

        threads = [threading.Thread(target=send) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers, key=str).count((202, None)) == 7, answers
        assert answers.count((429, "quota_exceeded")) == 13, answers
        usage = api.ok("GET", "/api/v1/usage")
        assert usage["totals"]["messagesOut"]["total"] == 10
        assert usage["quotas"][0]["used"] == 10
    except BaseException:
        print(stack.log_tails(80))
        raise
    finally:
        stack.stop("run", sig=signal.SIGINT, timeout_s=30)
