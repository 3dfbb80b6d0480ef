"""Send lanes: one session's backlog never holds another's message, one chat keeps its order,
each lane keeps its pace, and a message that cannot go yet keeps its place."""

from __future__ import annotations

import threading
import time

from node_agent.engines.base import TransientSendError
from node_agent.lanes import LaneItem, SendLanes
from tests.node_agent.node_helpers import wait_until


class Recorder:
    """A stand-in for the node's send path: records what went out, taking `send_s` each."""

    def __init__(self, send_s: float = 0.0, fail_first: set[str] | None = None) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.in_flight: dict[str, int] = {}
        self.overlap_in_a_chat = False
        self.send_s = send_s
        self.fail_first = set(fail_first or ())
        self.lock = threading.Lock()

    def __call__(self, item: LaneItem, final: bool) -> str:
        with self.lock:
            if item.message_id in self.fail_first:
                self.fail_first.discard(item.message_id)
                raise TransientSendError("session_not_connected", "not yet")
            key = f"{item.session_id}/{item.chat_id}"
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
            self.overlap_in_a_chat |= self.in_flight[key] > 1
        time.sleep(self.send_s)
        with self.lock:
            self.in_flight[key] -= 1
            self.sent.append((item.session_id, item.chat_id, item.message_id))
        return "sent"


def _lanes(send, threads=4):
    lanes = SendLanes(send, threads=threads, max_attempts=7, backoff_s=lambda n: 0.01)
    lanes.start()
    return lanes


def test_one_sessions_backlog_does_not_hold_back_anothers_message():
    send = Recorder(send_s=0.005)
    lanes = _lanes(send)
    try:
        for n in range(300):
            lanes.submit(LaneItem(f"a{n}", "A", f"chat{n % 3}", {}))
        lanes.submit(LaneItem("b0", "B", "chat", {}))
        wait_until(lambda: any(m == "b0" for _, _, m in send.sent))
        ahead = [m for _, _, m in send.sent].index("b0")
        assert ahead < 10, ahead  # not behind A's 300
    finally:
        lanes.stop()


def test_messages_of_one_chat_leave_in_order_one_at_a_time():
    send = Recorder(send_s=0.001)
    lanes = _lanes(send, threads=8)
    try:
        for n in range(200):
            lanes.submit(LaneItem(f"m{n:03}", "A", f"chat{n % 4}", {}))
        wait_until(lambda: len(send.sent) == 200)
    finally:
        lanes.stop()
    for chat in range(4):
        ids = [m for _, c, m in send.sent if c == f"chat{chat}"]
        assert ids == sorted(ids)
    assert not send.overlap_in_a_chat


def test_a_lane_keeps_its_pace_and_an_unpaced_lane_does_not_wait():
    send = Recorder()
    lanes = _lanes(send)
    try:
        started = time.monotonic()
        for n in range(6):
            lanes.submit(LaneItem(f"p{n}", "P", "c", {}), rate_per_s=10, burst=2)
            lanes.submit(LaneItem(f"u{n}", "U", "c", {}), rate_per_s=0)
        wait_until(lambda: len([m for s, _, m in send.sent if s == "U"]) == 6)
        assert len([m for s, _, m in send.sent if s == "P"]) <= 3  # the burst, maybe one more
        wait_until(lambda: len(send.sent) == 12)
        # Two at once, then one per 0.1 s: four more take at least 0.3 s.
        assert time.monotonic() - started >= 0.3
    finally:
        lanes.stop()


def test_a_message_that_cannot_go_yet_keeps_its_place_in_its_chat():
    send = Recorder(fail_first={"m0"})
    lanes = _lanes(send)
    try:
        for n in range(5):
            lanes.submit(LaneItem(f"m{n}", "A", "chat", {}))
        wait_until(lambda: len(send.sent) == 5)
    finally:
        lanes.stop()
    assert [m for _, _, m in send.sent] == ["m0", "m1", "m2", "m3", "m4"]


def test_the_last_try_is_final_and_a_message_is_queued_once():
    finals = []

    def send(item, final):
        finals.append(final)
        raise TransientSendError("session_not_connected", "never")

    lanes = SendLanes(send, threads=1, max_attempts=3, backoff_s=lambda n: 0.001)
    lanes.start()
    try:
        assert lanes.submit(LaneItem("m0", "A", "c", {}))
        assert not lanes.submit(LaneItem("m0", "A", "c", {}))
        wait_until(lambda: len(finals) == 3 and lanes.depth() == 0)
    finally:
        lanes.stop()
    assert finals == [False, False, True]


def test_messages_arriving_one_by_one_are_paced_too():
    """A lane that empties between arrivals keeps its bucket: no fresh burst per message."""
    send = Recorder()
    lanes = _lanes(send)
    try:
        started = time.monotonic()
        for n in range(5):
            lanes.submit(LaneItem(f"m{n}", "A", "c", {}), rate_per_s=10, burst=1)
            wait_until(lambda n=n: len(send.sent) == n + 1)
        # One at once, then one per 0.1 s: the other four took at least 0.4 s.
        assert time.monotonic() - started >= 0.4
    finally:
        lanes.stop()
