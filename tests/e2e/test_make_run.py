"""`make run`'s runner on the embedded default: a killed backend worker comes back, recorded."""

from __future__ import annotations

import os
import re
import signal

import psutil
import requests

from tests.e2e.stack import BIN, Stack, base_env, free_port, wait_for


def _pids(log: str, name: str) -> list[int]:
    return [int(pid) for pid in re.findall(rf"{name} started \(pid=(\d+)\)", log)]


def test_a_killed_backend_worker_is_restarted_and_written_to_the_system_log(tmp_path, request):
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
