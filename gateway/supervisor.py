"""Run the Procfile's processes; restart one that dies, with back-off, and say why.

`make run` starts the gateway on the embedded default as the processes the Procfile lists (web,
backend, node). Honcho stops every process when one exits; on a single machine that turns one crash
into an outage, so this runner restarts the dead process alone and leaves the others running.

Back-off: a process that dies is started again after 1 s, then 2, 4, 8 ... up to 60 s while it keeps
dying; once a run has lasted `stable_after_s` the next death starts again at 1 s. Every exit is
passed to `on_exit` (the management command writes it to the System log) with its reason: the exit
code or signal, and the process's last output lines with credentials in URLs masked.

SIGINT or SIGTERM stops everything: SIGTERM to each process group, SIGKILL after `grace_s`; a second
Ctrl-C kills at once. Parsing the Procfile and the output format are honcho's.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from honcho.colour import get_colours
from honcho.environ import expand_processes, parse_procfile
from honcho.printer import Message, Printer

TAIL_LINES = 10
SYSTEM = "system"
_URL_CREDENTIALS = re.compile(r"(\w+://[^\s:/@]*:)[^\s@/]+@")


def redact(line: str) -> str:
    """Mask the password of any URL in `line`: `redis://:s3cret@h` → `redis://:***@h`."""
    return _URL_CREDENTIALS.sub(r"\1***@", line)


def exit_reason(returncode: int) -> str:
    """`-9` → "killed by SIGKILL"; `1` → "exited with code 1"."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before restart number `n` (1-based) of a run of quick deaths."""

    initial_s: float = 1.0
    max_s: float = 60.0
    stable_after_s: float = 60.0

    def delay_s(self, n: int) -> float:
        return min(self.max_s, self.initial_s * 2 ** max(0, n - 1))


@dataclass(frozen=True)
class Exit:
    """What `on_exit` gets: one process death and what happens next."""

    name: str
    returncode: int
    reason: str
    restart_in_s: float
    restarts: int
    ran_s: float
    last_output: list[str]


@dataclass
class Child:
    name: str
    command: str
    env: dict[str, str]
    colour: str | None
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    reader: threading.Thread | None = None


class Supervisor:
    """Start `processes` (name → shell command), keep them running until stopped."""

    def __init__(
        self,
        processes: Iterable[tuple[str, str, dict[str, str]]],
        *,
        on_exit: Callable[[Exit], Any] = lambda exit: None,
        output: TextIO | None = None,
        backoff: Backoff | None = None,
        grace_s: float = 10.0,
        cwd: str | Path | None = None,
    ) -> None:
        colours = get_colours()
        self.children = [
            Child(name, command, env, next(colours)) for name, command, env in processes
        ]
        self.on_exit = on_exit
        self.backoff = backoff or Backoff()
        self.grace_s = grace_s
        self.cwd = cwd
        self.printer = Printer(output) if output is not None else Printer()
        self.printer.width = max([len(SYSTEM)] + [len(c.name) for c in self.children])
        self._print_lock = threading.Lock()
        self._stopping: int | None = None

    # --- output ------------------------------------------------------------------------------

    def say(self, text: str, name: str = SYSTEM, colour: str | None = None) -> None:
        with self._print_lock:
            self.printer.write(Message("line", text, datetime.now(), name, colour))

    def _pump(self, child: Child, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            child.tail.append(line)
            self.say(line, child.name, child.colour)
        stream.close()

    # --- processes ---------------------------------------------------------------------------

    def _start(self, child: Child) -> None:
        child.tail.clear()
        child.popen = subprocess.Popen(
            f"exec {child.command}",  # the shell becomes the process: its pid is the one we watch
            shell=True,
            cwd=self.cwd,
            env={**os.environ, **child.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our own signals reach it only through us
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        child.reader = threading.Thread(
            target=self._pump, args=(child, child.popen.stdout), daemon=True
        )
        child.reader.start()
        self.say(f"{child.name} started (pid={child.popen.pid})")

    def _reap(self, child: Child, returncode: int) -> None:
        try:  # whatever it forked must not outlive it (a second worker on the same queues)
            os.killpg(child.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if child.reader is not None:
            child.reader.join(timeout=2)  # the last lines are usually the reason
        ran_s = time.monotonic() - child.started_at
        child.quick_deaths = 1 if ran_s >= self.backoff.stable_after_s else child.quick_deaths + 1
        delay_s = self.backoff.delay_s(child.quick_deaths)
        child.popen = None
        child.restart_at = time.monotonic() + delay_s
        event = Exit(
            name=child.name,
            returncode=returncode,
            reason=exit_reason(returncode),
            restart_in_s=delay_s,
            restarts=child.quick_deaths,
            ran_s=round(ran_s, 1),
            last_output=[redact(line)[:300] for line in child.tail if line.strip()],
        )
        self.say(f"{child.name} {event.reason}; restarting in {delay_s:g} s")
        try:
            self.on_exit(event)
        except Exception as exc:  # recording must never stop the supervision
            self.say(f"could not record the exit of {child.name}: {type(exc).__name__}")

    def _signal_all(self, sig: int) -> None:
        for child in self.children:
            if child.popen is not None and child.popen.poll() is None:
                try:
                    os.killpg(child.popen.pid, sig)
                except ProcessLookupError:
                    pass

    def _handle_signal(self, signum: int, frame: Any) -> None:
        if self._stopping is not None:
            self.say("second signal: killing every process")
            self._signal_all(signal.SIGKILL)
            return
        self._stopping = signum
        self.say(f"{signal.Signals(signum).name} received: stopping every process")
        self._signal_all(signal.SIGTERM)

    def stop(self) -> None:
        """Ask the loop to stop every process (as SIGTERM does); safe from any thread."""
        self._handle_signal(signal.SIGTERM, None)

    def run(self, *, install_signals: bool = True) -> int:
        """Supervise until SIGINT/SIGTERM or `stop()`; return 0 once every process has stopped."""
        if install_signals:
            signal.signal(signal.SIGINT, self._handle_signal)
            signal.signal(signal.SIGTERM, self._handle_signal)
        for child in self.children:
            self._start(child)
        while self._stopping is None:
            now = time.monotonic()
            for child in self.children:
                if child.popen is not None:
                    returncode = child.popen.poll()
                    if returncode is not None:
                        self._reap(child, returncode)
                elif child.restart_at is not None and now >= child.restart_at:
                    self._start(child)
            time.sleep(0.2)
        self._wait_all()
        return 0

    def _wait_all(self) -> None:
        deadline = time.monotonic() + self.grace_s
        running = [c for c in self.children if c.popen is not None]
        while running and time.monotonic() < deadline:
            running = [c for c in running if c.popen.poll() is None]
            time.sleep(0.1)
        for child in running:
            self.say(f"{child.name} did not stop within {self.grace_s:g} s: SIGKILL")
            try:
                os.killpg(child.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.popen.wait()
        for child in self.children:
            if child.popen is not None:
                self.say(f"{child.name} stopped ({exit_reason(child.popen.wait())})")


def procfile_processes(path: str | Path, *, port: int) -> list[tuple[str, str, dict[str, str]]]:
    """Read a Procfile into (name, command, env) triples; PORT as honcho gives it (web first)."""
    procfile = parse_procfile(Path(path).read_text())
    return [
        (params.name.rsplit(".", 1)[0], params.cmd, params.env)
        for params in expand_processes(procfile.processes, port=port)
    ]
