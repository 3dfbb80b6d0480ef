"""The runner behind `make run`: real child processes, restarted with back-off, stopped together."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
from pathlib import Path

import psutil
import pytest

from gateway.supervisor import Backoff, Exit, Supervisor, exit_reason, procfile_processes, redact
from tests.e2e.stack import wait_for

PY = sys.executable
QUICK = Backoff(initial_s=0.05, max_s=0.2, stable_after_s=30)


def _running(supervisor: Supervisor) -> threading.Thread:
    thread = threading.Thread(target=supervisor.run, kwargs={"install_signals": False})
    thread.start()
    return thread


def _stopped(supervisor: Supervisor, thread: threading.Thread) -> None:
    supervisor.stop()
    thread.join(timeout=15)
    assert not thread.is_alive()


def test_a_process_that_dies_is_restarted_with_growing_delays_and_reported(tmp_path: Path):
    starts = tmp_path / "starts"
    script = (
        f"open({str(starts)!r}, 'a').write('x'); "
        "print('connecting to redis://:hunter2@broker:6379/0', flush=True); raise SystemExit(3)"
    )
    exits: list[Exit] = []
    supervisor = Supervisor(
        [("crashy", f"{PY} -c {script!r}", {})],
        on_exit=exits.append,
        output=io.StringIO(),
        backoff=QUICK,
    )
    thread = _running(supervisor)
    try:
        wait_for(lambda: len(exits) >= 4, timeout_s=10, what="four exits")
    finally:
        _stopped(supervisor, thread)

    first, second, third, fourth = exits[:4]
    assert (first.reason, first.returncode) == ("exited with code 3", 3)
    assert [e.restart_in_s for e in (first, second, third, fourth)] == [0.05, 0.1, 0.2, 0.2]
    assert [e.restarts for e in (first, second)] == [1, 2]
    assert first.last_output == ["connecting to redis://:***@broker:6379/0"]
    assert len(starts.read_text()) >= 4  # it really ran again each time


def test_one_death_leaves_the_others_running(tmp_path: Path):
    exits: list[Exit] = []
    out = io.StringIO()
    supervisor = Supervisor(
        [
            ("steady", f"{PY} -c 'import time; time.sleep(60)'", {}),
            ("short", f"{PY} -c 'raise SystemExit(1)'", {}),
        ],
        on_exit=exits.append,
        output=out,
        backoff=QUICK,
    )
    thread = _running(supervisor)
    try:
        wait_for(lambda: len(exits) >= 2, timeout_s=10, what="the short process to die twice")
        steady = supervisor.children[0]
        assert steady.popen is not None
        assert steady.popen.poll() is None
        pid = steady.popen.pid
    finally:
        _stopped(supervisor, thread)
    assert {e.name for e in exits} == {"short"}
    assert not psutil.pid_exists(pid)
    assert "short exited with code 1; restarting in 0.05 s" in out.getvalue()


def test_what_a_dead_process_forked_does_not_outlive_it(tmp_path: Path):
    pid_file = tmp_path / "grandchild"
    script = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    exits: list[Exit] = []
    supervisor = Supervisor(
        [("parent", f"{PY} -c {script!r}", {})],
        on_exit=exits.append,
        output=io.StringIO(),
        backoff=Backoff(initial_s=30),
    )
    thread = _running(supervisor)
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout_s=10, what="fork")
        grandchild = int(pid_file.read_text())
        os.kill(supervisor.children[0].popen.pid, signal.SIGKILL)
        wait_for(lambda: exits, timeout_s=10, what="the exit")
        wait_for(
            lambda: not psutil.pid_exists(grandchild), timeout_s=5, what="the grandchild to go"
        )
    finally:
        _stopped(supervisor, thread)
    assert exits[0].reason == "killed by SIGKILL"


def test_stop_asks_nicely_then_kills_what_lingers(tmp_path: Path):
    ignoring = tmp_path / "ignoring"
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ignoring)!r}, 'w').close(); time.sleep(60)"
    )
    polite = "import time; time.sleep(60)"
    out = io.StringIO()
    supervisor = Supervisor(
        [("polite", f"{PY} -c {polite!r}", {}), ("stubborn", f"{PY} -c {stubborn!r}", {})],
        output=out,
        grace_s=1,
    )
    thread = _running(supervisor)
    wait_for(lambda: all(c.popen for c in supervisor.children), timeout_s=5, what="both up")
    # a SIGTERM that arrives before the handler is installed would end it politely
    wait_for(ignoring.exists, timeout_s=10, what="stubborn ignoring SIGTERM")
    pids = [c.popen.pid for c in supervisor.children]
    _stopped(supervisor, thread)
    assert not any(psutil.pid_exists(pid) for pid in pids)
    text = out.getvalue()
    assert "polite stopped (killed by SIGTERM)" in text
    assert "stubborn did not stop within 1 s: SIGKILL" in text


@pytest.mark.parametrize(
    ("code", "reason"),
    [(0, "exited with code 0"), (2, "exited with code 2"), (-15, "killed by SIGTERM")],
)
def test_exit_reason(code: int, reason: str):
    assert exit_reason(code) == reason


def test_redact_masks_url_passwords_only():
    assert redact("amqp://user:pw@h/ and https://example.com/x@y") == (
        "amqp://user:***@h/ and https://example.com/x@y"
    )


def test_the_procfile_gives_web_the_port(tmp_path: Path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: gunicorn app\nworker: celery -A app worker\n")
    names = [(name, env["PORT"]) for name, _, env in procfile_processes(procfile, port=8000)]
    assert names == [("web", "8000"), ("worker", "8100")]
