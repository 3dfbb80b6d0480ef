"""What is process-wide about neonize: the lazy import, the FFI gate, the fd budget, back-off.

neonize's Go layer keeps unlocked global maps that session starts and stops write and every
other exported function reads; a concurrent read/write aborts the whole process (measured on
neonize 0.5.2: 50 serialized starts beside one status poller aborted 10 of 10 runs). So every
FFI call goes through `FfiGate`: ordinary calls share it, starts and stops hold it alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import resource
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from types import ModuleType

log = logging.getLogger(__name__)

NEONIZE_LOGGER = "neonize.utils.log"
# neonize: the Go log level is read from this logger at connect time; unset means DEBUG.
# Hold a start's exclusive gate at most this long (neonize 0.5.2, measured).
START_HOLD_CAP_S = 20.0
FD_BUDGET_SHARE = 0.8  # default budget: this share of the soft RLIMIT_NOFILE

_import_lock = threading.Lock()


def prepare_environment(log_level: str = "WARNING") -> None:
    """Set what neonize reads at import and connect time; call before the first import.

    `NEONIZE_BOT_TAG=off` keeps the Go side from tagging every 1:1 message as sent by a bot
    (measured on neonize 0.5.2: the Go runtime copies the environment when the library loads).
    `log_level` is a logging level name for the Go side's log records.
    """
    os.environ.setdefault("NEONIZE_BOT_TAG", "off")
    logging.getLogger(NEONIZE_LOGGER).setLevel(log_level.upper())


def load_neonize(log_level: str = "WARNING") -> ModuleType:
    """Import `neonize.client` (once, thread-safe) after preparing the environment.

    Costs ~0.5 s and starts a Go runtime: call it only in the node process, never before a fork.
    Raises ImportError when neonize (or a compatible protobuf) is not installed.
    """
    with _import_lock:
        prepare_environment(log_level)
        # Lazy on purpose, the one place neonize is loaded: it starts a Go runtime (see above).
        import neonize.client

        return neonize.client


class FfiGate:
    """A readers–writer gate around neonize's FFI, plus spacing between session starts.

    `shared()` for ordinary calls (send, status, pairing, logout); `exclusive()` for stops;
    `begin_start()` for starts, whose exclusive hold is released later from another thread
    (`StartHold.release`). Writers go first: a waiting start or stop blocks new readers.
    Not re-entrant: never take it again while holding it.
    """

    def __init__(self, start_spacing_s: float) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._start_order = threading.Lock()
        self._start_spacing_s = start_spacing_s
        self._next_start_at = 0.0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the gate beside other readers for the `with` block."""
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    def acquire_exclusive(self, cancel: threading.Event | None = None) -> bool:
        """Hold the gate alone; return False (not holding) if `cancel` gets set meanwhile."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    if cancel is not None and cancel.is_set():
                        return False
                    self._cond.wait(0.05)
                if cancel is not None and cancel.is_set():
                    return False
                self._writer = True
                return True
            finally:
                self._writers_waiting -= 1
                self._cond.notify_all()

    def release_exclusive(self) -> None:
        """Release an exclusive hold (from any thread)."""
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the gate alone for the `with` block."""
        self.acquire_exclusive()
        try:
            yield
        finally:
            self.release_exclusive()

    def begin_start(self, cancel: threading.Event) -> StartHold | None:
        """Wait for this start's turn (starts are spaced) and hold the gate alone.

        Returns None if `cancel` is set first. The caller must make sure `release()` is called
        on the returned hold: when the start has done its registry writes, or on any failure.
        """
        while not self._start_order.acquire(timeout=0.05):
            if cancel.is_set():
                return None
        try:
            while True:
                wait_s = self._next_start_at - time.monotonic()
                if wait_s <= 0:
                    break
                if cancel.wait(wait_s):
                    return None
            if not self.acquire_exclusive(cancel):
                return None
            self._next_start_at = time.monotonic() + self._start_spacing_s
        finally:
            self._start_order.release()
        return StartHold(self)


class StartHold:
    """The exclusive hold of one session start; `release()` is idempotent and thread-safe."""

    def __init__(self, gate: FfiGate) -> None:
        self._gate = gate
        self._lock = threading.Lock()
        self.released = threading.Event()

    def release(self) -> None:
        """Give the gate back (first call only)."""
        with self._lock:
            if self.released.is_set():
                return
            self.released.set()
        self._gate.release_exclusive()


def open_fd_count() -> int:
    """Return how many file descriptors this process has open (Linux `/proc/self/fd`)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: no measurement, never drain
        return 0


def default_fd_budget() -> int:
    """Return the fd count at which the node drains: 80% of the soft RLIMIT_NOFILE."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return int(soft * FD_BUDGET_SHARE)


def backoff_delay_s(attempt: int, min_s: float, max_s: float, jitter: float) -> float:
    """Return the wait before retry `attempt` (1-based): min_s·2^(attempt-1), capped at max_s.

    Jitter takes up to `jitter` (a share, 0..1) off the delay, so with jitter < 0.5 successive
    delays still grow until the cap.
    """
    base = min(max_s, min_s * 2 ** min(attempt - 1, 60))
    return base * (1 - random.uniform(0, jitter))


WHATSAPP_HOST = ("web.whatsapp.com", 443)  # whatsmeow dials wss://web.whatsapp.com/ws/chat
PROXY_DEFAULT_PORTS = {"socks5": 1080, "http": 8080, "https": 443}


def probe_target(proxy_url: str) -> tuple[str, int]:
    """Return the (host, port) a connect dials first: the proxy if one is set, else WhatsApp."""
    if not proxy_url:
        return WHATSAPP_HOST
    parts = urllib.parse.urlsplit(proxy_url)
    return parts.hostname or "", parts.port or PROXY_DEFAULT_PORTS.get(parts.scheme, 1080)


def probe_whatsapp(timeout_s: float, proxy_url: str = "") -> str | None:
    """Open and close a TCP connection to WhatsApp (or the proxy); return the error or None.

    Cheaper than a failing `connect()`, which leaks one fd each time and, on a silent network,
    blocks ~60 s with `stop()` stuck behind it (neonize 0.5.2, measured); it also keeps slow DNS
    answers
    outside the FFI gate.
    """
    try:
        with socket.create_connection(probe_target(proxy_url), timeout=timeout_s):
            return None
    except OSError as exc:
        return str(exc) or type(exc).__name__
