"""Human-like pacing in the send lanes: the delay before each send stays in its bounds and is the
session's own time, "typing…" shows before a text for its length and is cleared before it goes.

Lanes run on real threads with a fake clock: a test moves the clock, wakes the lanes and waits
until a sender thread has looked at them at that time, so nothing here measures time.
"""

from __future__ import annotations

import random
import threading

from node_agent import pacing, protocol
from node_agent.lanes import LaneItem, SendLanes
from node_agent.pacing import Pacing
from tests.node_agent.node_helpers import connect, network_of, wait_until


class FakeClock:
    """A clock that moves only when told; counts how often the lanes read it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.reads += 1
            return self.now

    def set(self, now: float) -> None:
        with self.lock:
            self.now = now


class UpperBound(random.Random):
    """Draws the upper bound of every delay and remembers the bounds asked for."""

    def __init__(self) -> None:
        super().__init__(0)
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return b


class Recorder:
    """Stands in for the node's send path and the engine's typing; records both in order."""

    def __init__(self, typing_fails: bool = False) -> None:
        self.events: list[tuple[str, ...]] = []
        self.typing_fails = typing_fails
        self.lock = threading.Lock()

    def send(self, item: LaneItem, final: bool) -> str:
        with self.lock:
            self.events.append(("send", item.session_id, item.message_id))
        return "sent"

    def typing(self, item: LaneItem, composing: bool) -> None:
        if self.typing_fails:
            raise RuntimeError("presence refused")
        with self.lock:
            self.events.append(("typing", item.message_id, "on" if composing else "off"))

    def sent(self, session_id: str | None = None) -> list[str]:
        with self.lock:
            return [e[2] for e in self.events if e[0] == "send" and session_id in (None, e[1])]


def _lanes(recorder, clock, rng=None, threads=1):
    lanes = SendLanes(
        recorder.send,
        threads=threads,
        max_attempts=7,
        backoff_s=lambda n: 0.01,
        typing=recorder.typing,
        clock=clock,
        rng=rng,
    )
    lanes.start()
    return lanes


def _look_at(lanes, clock, now):
    """Move the clock to `now` and return once a sender thread has picked at that time."""
    with clock.lock:
        clock.now = now
        reads = clock.reads
    lanes.wake()
    wait_until(lambda: clock.reads > reads, message="a sender thread to look")
    lanes.depth()  # the pick happens under the lanes' lock: it is over once we hold it


def test_delays_are_drawn_uniformly_within_their_bounds():
    rng = random.Random(7)
    delays = [Pacing(1500, 4000).delay_s(rng) for _ in range(2000)]
    assert all(1.5 <= d <= 4.0 for d in delays)
    assert min(delays) < 1.6  # spread over the whole range
    assert max(delays) > 3.9
    assert Pacing(0, 0, typing=True).delay_s(rng) == 0


def test_pacing_is_read_from_the_wire_and_made_harmless():
    assert Pacing.from_wire(None) is None
    assert Pacing.from_wire({"minDelayMs": 0, "maxDelayMs": 0, "typing": False}) is None
    assert Pacing.from_wire({"minDelayMs": 500, "maxDelayMs": 2000, "typing": True}) == Pacing(
        500, 2000, True
    )
    assert Pacing.from_wire({"minDelayMs": 3000, "maxDelayMs": 1000}) == Pacing(3000, 3000)
    assert Pacing.from_wire({"minDelayMs": -5, "maxDelayMs": "9", "typing": "yes"}) is None


def test_a_paced_lane_rests_its_drawn_delay_before_the_send():
    clock, rng, recorder = FakeClock(), UpperBound(), Recorder()
    lanes = _lanes(recorder, clock, rng)
    try:
        lanes.submit(LaneItem("m0", "A", "c", {}), rate_per_s=0, pacing=Pacing(1000, 2000))
        _look_at(lanes, clock, 0.0)  # the lane sees it: its delay starts now
        assert rng.asked == [(1000, 2000)]
        _look_at(lanes, clock, 1.999)
        assert recorder.sent() == []
        _look_at(lanes, clock, 2.0)
        wait_until(lambda: recorder.sent() == ["m0"])
        # The next message rests a delay of its own, counted from when it could go.
        lanes.submit(LaneItem("m1", "A", "c", {}), rate_per_s=0, pacing=Pacing(1000, 2000))
        _look_at(lanes, clock, 2.0)
        _look_at(lanes, clock, 3.999)
        assert recorder.sent() == ["m0"]
        _look_at(lanes, clock, 4.0)
        wait_until(lambda: recorder.sent() == ["m0", "m1"])
        assert rng.asked == [(1000, 2000)] * 2
    finally:
        lanes.stop()


def test_one_sessions_delay_does_not_delay_another_sessions_message():
    """One sender thread: a paced session's minute of rest must not hold it."""
    clock, recorder = FakeClock(), Recorder()
    lanes = _lanes(recorder, clock, threads=1)
    slow = Pacing(60_000, 60_000)
    try:
        for n in range(3):
            lanes.submit(LaneItem(f"a{n}", "A", f"chat{n}", {}), rate_per_s=0, pacing=slow)
        lanes.submit(LaneItem("b0", "B", "chat", {}), rate_per_s=0)
        lanes.submit(LaneItem("b1", "B", "chat", {}), rate_per_s=0)
        wait_until(lambda: recorder.sent("B") == ["b0", "b1"])
        assert recorder.sent("A") == []
        assert lanes.depth("A") == 3
        _look_at(lanes, clock, 60.0)
        wait_until(lambda: recorder.sent("A") == ["a0"])  # then the next rests its own minute
    finally:
        lanes.stop()


def test_typing_shows_before_a_text_for_its_length_and_is_cleared_before_it_goes():
    clock, recorder = FakeClock(), Recorder()
    lanes = _lanes(recorder, clock)
    typing = Pacing(typing=True)
    text = {"type": "text", "text": "x" * 12}  # 12 characters at 3 a second: 4 s
    try:
        lanes.submit(LaneItem("m0", "A", "c", text), rate_per_s=0, pacing=typing)
        wait_until(lambda: recorder.events == [("typing", "m0", "on")])
        _look_at(lanes, clock, 3.999)
        assert recorder.sent() == []
        _look_at(lanes, clock, 4.0)
        wait_until(lambda: recorder.sent() == ["m0"])
        assert recorder.events == [
            ("typing", "m0", "on"),
            ("typing", "m0", "off"),
            ("send", "A", "m0"),
        ]
        # No typing before what is not a text.
        image = {"type": "image", "text": "caption", "media": {"id": "med_1"}}
        lanes.submit(LaneItem("m1", "A", "c", image), rate_per_s=0, pacing=typing)
        wait_until(lambda: recorder.sent() == ["m0", "m1"])
        assert [e for e in recorder.events if e[1] == "m1"] == []
    finally:
        lanes.stop()


def test_typing_time_grows_with_the_text_within_bounds():
    typing = Pacing(typing=True)
    assert typing.typing_s({"type": "text", "text": "ok"}) == pacing.TYPING_MIN_S
    assert typing.typing_s({"type": "text", "text": "x" * 15}) == 5.0
    assert typing.typing_s({"type": "text", "text": "x" * 5000}) == pacing.TYPING_MAX_S
    assert Pacing().typing_s({"type": "text", "text": "x" * 15}) == 0


def test_typing_that_cannot_be_shown_does_not_hold_the_message():
    clock, recorder = FakeClock(), Recorder(typing_fails=True)
    lanes = _lanes(recorder, clock)
    try:
        lanes.submit(
            LaneItem("m0", "A", "c", {"type": "text", "text": "hello"}),
            rate_per_s=0,
            pacing=Pacing(typing=True),
        )
        wait_until(lambda: recorder.sent() == ["m0"])  # the clock never moved
    finally:
        lanes.stop()


def test_the_sandbox_shows_typing_in_the_chat_before_the_text(runtime, backend, monkeypatch):
    monkeypatch.setattr(pacing, "TYPING_MIN_S", 0.01)  # a real lane: keep the wait short
    monkeypatch.setattr(pacing, "TYPING_CHARS_PER_S", 1000.0)
    connect(runtime, backend)
    chat = "6281200000001@s.whatsapp.net"
    text = {"to": "6281200000001", "chatId": chat, "type": "text", "text": "hello"}
    task = protocol.MessageSend(
        message_id="m1",
        session_id="s1",
        payload=text,
        rate_per_s=0,
        pacing={"minDelayMs": 0, "maxDelayMs": 0, "typing": True},
    )
    assert runtime.message_enqueue(task) == "queued"

    (sent,) = wait_until(lambda: network_of(runtime).ledger("m1"), message="the text")
    states = runtime.engines["sandbox"].chat_states("s1")
    assert [(s["chatId"], s["state"]) for s in states] == [(chat, "composing"), (chat, "paused")]
    assert states[0]["at"] <= states[1]["at"] <= sent["created_at"]
