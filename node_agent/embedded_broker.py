"""The embedded default's broker and result store: files in one folder, safe for many processes.

kombu's `filesystem://` transport lets a reader take a message file its publisher is still
writing: the reader gets an empty or cut body and Celery stops with `JSONDecodeError`
(celery/kombu#1551); Celery's `file://` result store has the same race for RPC answers. Here:

- a message is written whole into `staging/` and then renamed into its queue's folder
  (`queue/<queue>/`), so a reader sees a file only once it is complete (rename is atomic
  within one filesystem, POSIX `rename(2)`);
- a reader claims a message by renaming it into `claimed/` first: of two readers exactly one
  rename succeeds, so no message is handed out twice; it then reads and deletes it;
- each queue has its own folder, so taking a message lists only that queue's files (kombu's
  lists every queue's files on every poll); names start with the publish time
  (`time.monotonic_ns`, one clock for every process of the machine), so a queue is first in,
  first out;
- RPC answers are written aside and renamed into place too (`ResultFiles`).

Exchanges (fanout and topic bindings) stay kombu's: they are locked files it reads whole.
"""

from __future__ import annotations

import collections
import itertools
import os
import time
import uuid
from queue import Empty
from typing import Any
from urllib.parse import quote

from celery.backends.filesystem import FilesystemBackend
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, ensure_bytes, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

SUFFIX = ".msg"
# How long a worker whose prefetch is full waits before its loop applies finished tasks' acks.
PREFETCH_WAIT_S = 0.005
_sequence = itertools.count()


def _write_then_rename(data: bytes, staging_dir: str, target: str) -> None:
    """Write `data` to a new file in `staging_dir`, then rename it to `target` (atomic)."""
    staged = os.path.join(staging_dir, f"{uuid.uuid4().hex}.part")
    with open(staged, "wb") as handle:
        handle.write(data)
    os.replace(staged, target)


class Channel(filesystem.Channel):
    """kombu's filesystem channel with whole-file publishing and exclusive claiming."""

    def _folders(self) -> tuple[str, str, str]:
        """Return (queues root, staging, claimed); the last two sit beside the queues root."""
        root = self.data_folder_in
        parent = os.path.dirname(os.path.abspath(root))
        staging = os.path.join(parent, "staging")
        claimed = os.path.join(parent, "claimed")
        return root, staging, claimed

    def _queue_folder(self, queue: str) -> str:
        folder = os.path.join(self.data_folder_in, quote(queue, safe="@.-_"))
        os.makedirs(folder, exist_ok=True)
        return folder

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put `payload` on `queue`, visible to readers only once it is complete."""
        _, staging, _ = self._folders()
        os.makedirs(staging, exist_ok=True)
        name = f"{time.monotonic_ns():020d}-{os.getpid()}-{next(_sequence):010d}{SUFFIX}"
        _write_then_rename(
            str_to_bytes(dumps(payload)), staging, os.path.join(self._queue_folder(queue), name)
        )

    def _get(self, queue: str) -> Any:
        """Take the oldest message of `queue`; raises Empty when there is none.

        The queue's folder is listed (and sorted) only when the names listed before are used
        up: a message published since has a later name, so it comes after them anyway, and a
        name another reader took meanwhile is skipped when its claim fails.
        """
        folder = self._queue_folder(queue)
        _, _, claimed_dir = self._folders()
        os.makedirs(claimed_dir, exist_ok=True)
        listed = self._listed.setdefault(queue, collections.deque())
        relisted = False
        while True:
            if not listed:
                if relisted:
                    raise Empty()
                listed.extend(sorted(n for n in os.listdir(folder) if n.endswith(SUFFIX)))
                relisted = True
                continue
            name = listed.popleft()
            claimed = os.path.join(claimed_dir, f"{uuid.uuid4().hex}-{name}")
            try:
                os.rename(os.path.join(folder, name), claimed)
            except FileNotFoundError:
                continue  # another reader took it first
            with open(claimed, "rb") as handle:
                payload = handle.read()
            os.remove(claimed)
            return loads(bytes_to_str(payload))

    @cached_property
    def _listed(self) -> dict[str, collections.deque[str]]:
        """Names listed in each queue's folder and not taken yet, oldest first."""
        return {}

    def _size(self, queue: str) -> int:
        return sum(1 for name in os.listdir(self._queue_folder(queue)) if name.endswith(SUFFIX))

    def _purge(self, queue: str) -> int:
        folder = self._queue_folder(queue)
        count = 0
        for name in os.listdir(folder):
            if name.endswith(SUFFIX):
                try:
                    os.remove(os.path.join(folder, name))
                    count += 1
                except FileNotFoundError:
                    pass
        return count


class Transport(filesystem.Transport):
    """The embedded broker: `broker_transport = "node_agent.embedded_broker:Transport"`."""

    Channel = Channel
    driver_type = "filesystem"
    driver_name = "filesystem-atomic"

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        """Deliver one message, or wait a moment and hand control back to Celery's loop.

        Celery's loop for transports like this one (`celery.worker.loops.synloop`) applies the
        acknowledgements of finished tasks only between two calls, which it makes with a 2 s
        timeout; kombu's version polls until that timeout whenever the worker's prefetch is
        full, so a worker took its next messages up to 2 s late (measured: a node sent 4-9
        messages/s, the backend delivered one webhook per 2 s). Here a worker whose prefetch is
        full waits PREFETCH_WAIT_S for its tasks to finish, one with room polls once and waits
        the polling interval if nothing came. Raises TimeoutError (socket.timeout) when nothing
        was delivered.
        """
        if not any(channel.qos.can_consume() for channel in self.channels):
            time.sleep(PREFETCH_WAIT_S)
            raise TimeoutError()
        try:
            self.cycle.get(self._deliver, timeout=timeout)
        except Empty:
            time.sleep(self.polling_interval or 0)
            raise TimeoutError() from None


class ResultFiles(FilesystemBackend):
    """Celery's file result store, each answer written aside and renamed into place.

    Selected as `node_agent.embedded_broker:ResultFiles+file:///path` (Celery's `backend+url`
    form). The staging files sit in the same folder, named so no key can clash with them.
    """

    def set(self, key: bytes, value: Any) -> None:
        target = self._filename(key)
        folder = os.path.dirname(target) or b"."
        _write_then_rename(ensure_bytes(value), os.fsdecode(folder), os.fsdecode(target))
