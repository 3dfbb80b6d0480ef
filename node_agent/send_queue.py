"""The node's send queue: what a `message_send` task hands over, fed into the send lanes.

A task records its message (committed) and queues it; the lanes (lanes.py) send it fairly, in
order per chat and at the session's pace. A task can then be acknowledged at once: a node that
stops with messages queued finds them `recorded` at its next start and queues them again.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from node_agent import protocol
from node_agent.config import NodeConfig
from node_agent.engines.base import holding_engine
from node_agent.lanes import LaneItem, SendLanes
from node_agent.messages import Messages
from node_agent.pacing import Pacing

# Tries while a session is not connected (or the shared store is out of reach), then the last
# one reports the failure; with the default waits (2 s doubling to a minute) about three minutes.
SEND_MAX_ATTEMPTS = 7


def backoff(min_s: float, max_s: float) -> Callable[[int], float]:
    """Return the wait before try `attempts + 1`: min_s, 2·min_s ... up to max_s, ± 20%."""

    def wait_s(attempts: int) -> float:
        return min(max_s, min_s * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)

    return wait_s


class SendQueue:
    """Record and queue sends; `send(message_id, session_id, payload, final_attempt=)` sends
    one (NodeRuntime.message_send). Threads and retry waits come from `config`
    (WORKER_SEND_THREADS, WORKER_SEND_RETRY_MIN_S/MAX_S)."""

    def __init__(self, messages: Messages, send: Callable[..., str], config: NodeConfig) -> None:
        self.messages = messages
        self._send = send
        self.lanes = SendLanes(
            self._send_item,
            threads=config.send_threads,
            max_attempts=SEND_MAX_ATTEMPTS,
            backoff_s=backoff(config.send_retry_min_s, config.send_retry_max_s),
            typing=self._typing,
        )

    def start(self) -> None:
        """Start the sender threads and queue what a stopped node left `recorded`, oldest first
        (unpaced until the backend's next send, or its republish, names the plan's rate and
        the session's pacing)."""
        self.lanes.start()
        for message in self.messages.db.message_list_in_state("recorded"):
            item = LaneItem(
                message["message_id"],
                message["session_id"],
                message["chat_jid"],
                message["payload"],
            )
            self.lanes.submit(item)

    def stop(self) -> None:
        self.lanes.stop()

    def enqueue(self, task: protocol.MessageSend) -> str:
        """Record `task`'s message and queue it in its session's lane, paced as the task says
        (plan's rate, session's pacing); return "queued".

        A message known here already and past `recorded` is answered like a repeat of
        `message_send` (its last report again, never a second send): its state is returned.
        """
        message, created = self.messages.record(task.message_id, task.session_id, task.payload)
        if not created and message["state"] != "recorded":
            return self._send(task.message_id, task.session_id, task.payload)
        item = LaneItem(task.message_id, task.session_id, message["chat_jid"], task.payload)
        self.lanes.submit(
            item,
            rate_per_s=task.rate_per_s,
            burst=task.burst,
            pacing=Pacing.from_wire(task.pacing),
        )
        return "queued"

    def _send_item(self, item: LaneItem, final_attempt: bool) -> str:
        return self._send(
            item.message_id, item.session_id, item.payload, final_attempt=final_attempt
        )

    def _typing(self, item: LaneItem, composing: bool) -> None:
        """Show (`composing`) or clear "typing…" in the item's chat through the engine that
        holds its session; nothing when none does. Raises what the engine raises."""
        engine = holding_engine(
            self.messages.engines, self.messages.db.session_get(item.session_id, full=False)
        )
        if engine is not None:
            engine.typing(item.session_id, item.payload, composing)
