"""The node's hourly usage report: counted per session and UTC hour from its real SQLite file,
queued once per hour (kept across restarts) and delivered alone by the outbox."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from node_agent import protocol
from node_agent.clock import format_ts, parse_ts
from node_agent.config import ConfigError, NodeConfig
from node_agent.database import NodeDatabase
from node_agent.outbox import one_request
from node_agent.schema import STATE_USAGE_REPORTED_UNTIL
from node_agent.usage import CATCH_UP_HOURS, UsageReporter, hour_start
from tests.node_agent.node_helpers import TOKEN, outbox_drained, wait_until

PATH = protocol.USAGE_REPORT_PATH
T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)
H = timedelta(hours=1)
_ids = count(1)


class Clock:
    """A settable clock for UsageReporter's `now`."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def sent(db, session_id, at):
    """Store an outbound message of `session_id` that the node sent at `at`."""
    message_id = f"msg_{next(_ids)}"
    db.message_record_out(
        message_id, session_id=session_id, chat_jid="1@s.whatsapp.net", type_="text", payload={}
    )
    assert db.message_transition(message_id, ("recorded",), "sent", sent_at=format_ts(at))


def received(db, session_id):
    """Store an incoming message of `session_id` (received now, by the real clock)."""
    assert db.message_record_in(
        session_id=session_id,
        wa_message_id=f"WA{next(_ids)}",
        chat_jid="2@s.whatsapp.net",
        from_phone="2",
        type_="text",
        payload={"text": "hi"},
    )


def queued_usage(db):
    """The usage reports in the outbox, oldest first."""
    return [row["body"] for row in db.outbox_list() if row["path"] == PATH]


def reporter(db, clock, wake=lambda: None):
    return UsageReporter(db, wake, "node-test", 3600, now=clock)


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "node.sqlite3")


@pytest.fixture
def db(db_path):
    database = NodeDatabase(db_path)
    yield database
    database.close()


def test_counts_per_session_and_hour_from_the_node_database(db):
    now = datetime.now(UTC)
    h0 = hour_start(now) - 3 * H
    sent(db, "s1", h0 + timedelta(minutes=10))
    sent(db, "s1", h0 + H - timedelta(microseconds=1))  # the hour's last moment
    sent(db, "s1", h0 + H)  # the next hour's first
    sent(db, "s2", h0 + timedelta(minutes=30))
    db.message_record_out(  # recorded, never sent: not counted
        "msg_unsent", session_id="s1", chat_jid="1@s.whatsapp.net", type_="text", payload={}
    )
    for session_id in ("s2", "s2", "s3"):
        received(db, session_id)
    expected = {
        format_ts(h0): [("s1", 2, 0), ("s2", 1, 0)],
        format_ts(h0 + H): [("s1", 1, 0)],
    }
    for row in db.message_list("s2", "in") + db.message_list("s3", "in"):
        # Received now: in this hour, or the next one if the test ran into it meanwhile.
        hour = format_ts(hour_start(parse_ts(row["created_at"])))
        lines = {s: [o, i] for s, o, i in expected.get(hour, [])}
        lines.setdefault(row["session_id"], [0, 0])[1] += 1
        expected[hour] = sorted((s, o, i) for s, (o, i) in lines.items())
    woken = []

    bodies = reporter(db, Clock(now + 2 * H), wake=lambda: woken.append(1)).report_due()

    assert {b["periodStart"]: b for b in bodies} == {
        start: {
            "workerId": "node-test",
            "periodStart": start,
            "periodEnd": format_ts(parse_ts(start) + H),
            "sessions": [{"sessionId": s, "sent": o, "received": i} for s, o, i in lines],
        }
        for start, lines in expected.items()
    }
    assert [b["periodStart"] for b in bodies] == sorted(expected)  # oldest first, empty skipped
    assert queued_usage(db) == bodies
    assert woken == [1]


def test_an_hour_holds_its_first_moment_and_not_its_end(db):
    sent(db, "s1", T0)
    sent(db, "s1", T0 + H)
    received(db, "s2")
    received(db, "s2")
    first, second = (row["id"] for row in db.message_list("s2", "in"))
    for row_id, at in ((first, T0), (second, T0 + H)):  # as if received then
        db._conn.execute("UPDATE messages SET created_at = ? WHERE id = ?", (format_ts(at), row_id))
    line = [{"sessionId": "s1", "sent": 1, "received": 0}]
    line.append({"sessionId": "s2", "sent": 0, "received": 1})

    bodies = reporter(db, Clock(T0 + 2 * H)).report_due()

    assert [(b["periodStart"], b["sessions"]) for b in bodies] == [
        (format_ts(T0), line),
        (format_ts(T0 + H), line),
    ]


def test_the_last_reported_hour_survives_a_restart_and_no_hour_is_reported_twice(db_path):
    clock = Clock(T0 + H + timedelta(seconds=5))
    first = NodeDatabase(db_path)
    sent(first, "s1", T0 + timedelta(minutes=15))
    assert [b["periodStart"] for b in reporter(first, clock).report_due()] == [format_ts(T0)]
    assert reporter(first, clock).report_due() == []
    first.close()

    clock.now = T0 + H + timedelta(minutes=30)  # restarted within the same hour
    second = NodeDatabase(db_path)
    assert reporter(second, clock).report_due() == []
    assert second.state_get(STATE_USAGE_REPORTED_UNTIL) == format_ts(T0 + H)
    sent(second, "s1", T0 + H + timedelta(minutes=20))
    sent(second, "s1", T0 + 2 * H - timedelta(microseconds=1))
    sent(second, "s2", T0 + 2 * H + timedelta(minutes=40))
    second.close()

    clock.now = T0 + 3 * H + timedelta(seconds=5)  # down for two hours
    third = NodeDatabase(db_path)
    try:
        bodies = reporter(third, clock).report_due()
        assert [(b["periodStart"], b["sessions"]) for b in bodies] == [
            (format_ts(T0 + H), [{"sessionId": "s1", "sent": 2, "received": 0}]),
            (format_ts(T0 + 2 * H), [{"sessionId": "s2", "sent": 1, "received": 0}]),
        ]
        assert reporter(third, clock).report_due() == []
        # Every hour with traffic was queued once, in order, across the three "processes".
        assert [b["periodStart"] for b in queued_usage(third)] == [
            format_ts(T0 + n * H) for n in range(3)
        ]
    finally:
        third.close()


def test_an_hour_is_marked_done_only_together_with_its_report(db):
    clock = Clock(T0 + H + timedelta(seconds=5))
    sent(db, "s1", T0 + timedelta(minutes=1))
    db._conn.execute(  # the mark cannot be written, after the report was inserted
        "CREATE TEMP TRIGGER no_mark BEFORE INSERT ON node_state"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        reporter(db, clock).report_due()
    assert db.outbox_list() == []
    assert db.state_get(STATE_USAGE_REPORTED_UNTIL) is None

    db._conn.execute("DROP TRIGGER no_mark")
    assert [b["periodStart"] for b in reporter(db, clock).report_due()] == [format_ts(T0)]
    assert len(queued_usage(db)) == 1


def test_at_most_the_last_day_is_caught_up(db):
    now = T0 + timedelta(days=3, minutes=1)
    current = hour_start(now)
    sent(db, "old", current - (CATCH_UP_HOURS + 1) * H)
    sent(db, "new", current - CATCH_UP_HOURS * H)
    sent(db, "last", current - H)
    sent(db, "running", current)  # the hour not over yet
    clock = Clock(now)

    bodies = reporter(db, clock).report_due()

    assert [b["sessions"][0]["sessionId"] for b in bodies] == ["new", "last"]
    # After a stop of more than a day, the same: the hours before the last day are skipped.
    sent(db, "gap", current + 5 * H)
    sent(db, "back", current + 30 * H)
    clock.now = now + 31 * H
    assert [b["sessions"][0]["sessionId"] for b in reporter(db, clock).report_due()] == ["back"]


def test_the_interval_is_configured_and_must_be_positive():
    env = {"BACKEND_AUTH_TOKEN": "t"}
    assert NodeConfig.from_env(env).usage_report_interval_s == 3600.0
    config = NodeConfig.from_env({**env, "WORKER_USAGE_REPORT_INTERVAL_S": "0.5"})
    assert config.usage_report_interval_s == 0.5
    with pytest.raises(ConfigError, match="WORKER_USAGE_REPORT_INTERVAL_S"):
        NodeConfig.from_env({**env, "WORKER_USAGE_REPORT_INTERVAL_S": "0"})


def test_hourly_runs_come_just_after_the_hour(db):
    delay_s = reporter(db, Clock(T0)).next_delay_s()
    assert 0 < delay_s <= 3600 + 5
    run_at = datetime.now(UTC) + timedelta(seconds=delay_s)
    assert (run_at.minute, run_at.second) in ((0, 4), (0, 5))


def test_the_outbox_sends_a_usage_report_alone_between_batches():
    rows = [{"path": p} for p in (protocol.SESSION_STATUS_PATH, protocol.MESSAGE_STATUS_PATH)]
    usage = {"path": PATH}
    assert one_request([*rows, usage, *rows]) == rows
    assert one_request([usage, *rows]) == [usage]
    assert one_request(rows) == rows


def test_the_running_node_reports_each_hour_through_the_outbox(make_runtime, backend, monkeypatch):
    monkeypatch.setattr("node_agent.outbox.backoff_s", lambda attempt: 0.01)
    backend.answer(PATH, 503)  # the first try fails: the outbox tries again
    runtime = make_runtime()
    clock = Clock(hour_start(datetime.now(UTC)) - H + timedelta(seconds=5))
    sent(runtime.db, "s1", clock.now - H + timedelta(minutes=3))
    runtime.reporter.session_status("s1", "CONNECTED")
    usage = UsageReporter(
        runtime.db, runtime.outbox.wake, runtime.config.worker_id, 0.05, now=clock
    )
    usage.start()
    try:
        [first] = wait_until(lambda: backend.bodies(PATH), message="the first usage report")
        assert first["sessions"] == [{"sessionId": "s1", "sent": 1, "received": 0}]
        assert first["periodStart"] == format_ts(clock.now - H - timedelta(seconds=5))

        # An hour later (by its clock), the next run reports the hour that has just ended.
        sent(runtime.db, "s2", clock.now + timedelta(minutes=7))
        clock.now += H
        second = wait_until(lambda: backend.bodies(PATH)[1:], message="the next hour's report")
        assert second[0]["sessions"] == [{"sessionId": "s2", "sent": 1, "received": 0}]
    finally:
        usage.stop()
    outbox_drained(runtime)
    tries = backend.received(PATH, ok_only=False)
    assert [r["answered"] for r in tries] == [503, 200, 200]
    assert tries[0]["body"] == tries[1]["body"]
    assert {r["headers"]["Authorization"] for r in tries} == {f"Bearer {TOKEN}"}
    assert all(PATH not in batch["paths"] for batch in backend.batches)
    assert backend.statuses("s1")
