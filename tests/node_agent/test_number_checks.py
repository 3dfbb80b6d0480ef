"""Number checks spaced per session on the node: one session's checks wait for its bucket (a
bounded time, else `rate_limited`), another session's do not. A fake clock and a sleep that
only records (or blocks on an event) stand in for time."""

from __future__ import annotations

import threading

from node_agent import protocol
from node_agent.checks import NumberChecks
from tests.node_agent.node_helpers import connect

RATE_LIMITED = protocol.CheckNumber.RATE_LIMITED


class Sessions:
    """The node's database as NumberChecks reads it: every session runs on the `fake` engine."""

    def session_get(self, session_id):
        return {"session_id": session_id, "engine": "fake"}


class Engine:
    def __init__(self, events):
        self.events = events

    def is_running(self, session_id):
        return True

    def check_number(self, session_id, phone):
        self.events.append(("check", session_id))
        return f"{phone}@s.whatsapp.net"


class Time:
    """A fake clock whose sleep records the wait and moves the clock by it."""

    def __init__(self, events):
        self.now = 0.0
        self.events = events

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.events.append(("sleep", seconds))
        self.now += seconds


def _checks(events, time_=None, **kwargs):
    time_ = time_ or Time(events)
    checks = NumberChecks(
        Sessions(),
        {"fake": Engine(events)},
        clock=time_.clock,
        sleep=time_.sleep,
        **kwargs,
    )
    return checks, time_


def _ask(session_id, rate_per_minute):
    return protocol.CheckNumber(
        session_id=session_id, phone="6281200000001", rate_per_minute=rate_per_minute
    )


def test_one_sessions_checks_are_spaced_and_another_sessions_are_not():
    events = []
    checks, _ = _checks(events)
    for _ in range(3):
        assert checks.check(_ask("A", 60))["jid"] == "6281200000001@s.whatsapp.net"
    checks.check(_ask("B", 60))
    # 60 a minute: one at once, then one a second; B's first waits for nothing of A's.
    assert events == [
        ("check", "A"),
        ("sleep", 1.0),
        ("check", "A"),
        ("sleep", 1.0),
        ("check", "A"),
        ("check", "B"),
    ]


def test_a_check_further_away_than_the_wait_is_refused_and_not_asked():
    events = []
    checks, time_ = _checks(events, wait_max_s=3.0)
    checks.check(_ask("A", 10))  # 10 a minute: the next one in 6 s, past the 3 s wait
    assert checks.check(_ask("A", 10)) == {"error": RATE_LIMITED, "retryAfterS": 6}
    assert checks.check(_ask("B", 10))["jid"]
    assert events == [("check", "A"), ("check", "B")]
    time_.now = 3.5  # 2.5 s to go: within the wait
    assert checks.check(_ask("A", 10))["jid"]
    (_, slept), last = events[-2:]
    assert (round(slept, 6), last) == (2.5, ("check", "A"))


def test_an_unspaced_plan_never_waits():
    events = []
    checks, _ = _checks(events)
    for _ in range(5):
        checks.check(_ask("A", 0))
    assert events == [("check", "A")] * 5


def test_one_check_of_a_session_waits_at_a_time():
    events = []
    entered, release = threading.Event(), threading.Event()

    class Blocking(Time):
        def sleep(self, seconds):
            self.events.append(("sleep", seconds))
            entered.set()
            release.wait(10)

    checks, _ = _checks(events, Blocking(events))
    checks.check(_ask("A", 60))
    waiter = threading.Thread(target=checks.check, args=(_ask("A", 60),))
    waiter.start()
    try:
        assert entered.wait(10)
        third = checks.check(_ask("A", 60))
        assert third["error"] == RATE_LIMITED
        assert third["retryAfterS"] >= 1
        assert checks.check(_ask("B", 60))["jid"]  # another session is not held
    finally:
        release.set()
        waiter.join(10)
    assert events == [("check", "A"), ("sleep", 1.0), ("check", "B"), ("check", "A")]


def test_the_node_answers_a_spent_sessions_check_rate_limited(runtime, backend):
    connect(runtime, backend)
    first = runtime.checks.check(_ask("s1", 1))
    assert first == {"jid": "6281200000001@s.whatsapp.net"}
    assert runtime.checks.check(_ask("s1", 1)) == {"error": RATE_LIMITED, "retryAfterS": 60}
    not_running = runtime.checks.check(_ask("nope", 1))
    assert not_running == {"error": protocol.NOT_CONNECTED}
