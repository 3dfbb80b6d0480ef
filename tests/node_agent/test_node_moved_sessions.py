import sqlite3

import pytest

from node_agent.database import NodeDatabase
from node_agent.protocol import REGISTER_PATH, heartbeat_path
from tests.node_agent.node_helpers import connect, node_heartbeat, outbox_drained, wait_until

HEARTBEAT_PATH = heartbeat_path("node-test")


def test_registration_stops_sessions_that_moved_and_reports_nothing_for_them(runtime, backend):
    connect(runtime, backend, session_id="moved", phone="6281200000101")
    connect(runtime, backend, session_id="mine", phone="6281200000102")
    reports_before = len(backend.statuses("moved"))
    backend.data[REGISTER_PATH] = {"workerId": "node-test", "stopSessions": ["moved", "unknown"]}
    beat = node_heartbeat(runtime)

    assert beat.register_once()

    (register,) = backend.bodies(REGISTER_PATH)
    assert sorted(register["runningSessions"]) == ["mine", "moved"]
    sandbox = runtime.engines["sandbox"]
    assert not sandbox.is_running("moved")
    assert sandbox.is_running("mine")
    assert runtime.db.session_get("moved")["desired"] == "moved"
    assert runtime.db.session_get("moved")["credentials"] is not None  # no logout
    assert runtime.running_session_ids() == ["mine"]
    outbox_drained(runtime)
    assert len(backend.statuses("moved")) == reports_before


def test_heartbeat_answer_stops_sessions_that_moved(runtime, backend):
    connect(runtime, backend, session_id="moved", phone="6281200000103")
    beat = node_heartbeat(runtime)
    beat.start()
    try:
        wait_until(lambda: backend.bodies(HEARTBEAT_PATH), message="heartbeat")
        assert backend.bodies(HEARTBEAT_PATH)[0]["runningSessions"] == ["moved"]
        assert runtime.engines["sandbox"].is_running("moved")
        backend.data[HEARTBEAT_PATH] = {"stopSessions": ["moved"]}
        wait_until(lambda: not runtime.engines["sandbox"].is_running("moved"), message="stop")
        wait_until(
            lambda: backend.bodies(HEARTBEAT_PATH)[-1]["runningSessions"] == [],
            message="heartbeat without the moved session",
        )
    finally:
        beat.stop()


def test_register_once_with_backend_down_changes_nothing(runtime, backend):
    connect(runtime, backend, session_id="s1", phone="6281200000104")
    backend.answer(REGISTER_PATH, 503)
    assert not node_heartbeat(runtime).register_once()
    assert runtime.engines["sandbox"].is_running("s1")


OLD_SESSIONS_TABLE = """
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL DEFAULT '',
    engine TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'qr',
    desired TEXT NOT NULL DEFAULT 'running' CHECK (desired IN ('running', 'stopped')),
    status TEXT NOT NULL DEFAULT 'INITIALIZING',
    phone_number TEXT,
    jid TEXT,
    credentials TEXT,
    last_report TEXT,
    last_report_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


def test_node_db_from_before_moved_sessions_is_upgraded_with_its_rows(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_SESSIONS_TABLE)
        conn.execute(
            "INSERT INTO sessions (session_id, engine, desired, credentials, created_at,"
            " updated_at) VALUES ('s1', 'sandbox', 'stopped', '{\"jid\": \"x\"}', 't0', 't0')"
        )
    conn.close()

    db = NodeDatabase(path)
    try:
        db.session_update("s1", desired="moved")
        row = db.session_get("s1")
        assert (row["desired"], row["credentials"], row["created_at"]) == (
            "moved",
            {"jid": "x"},
            "t0",
        )
        with pytest.raises(sqlite3.IntegrityError):
            db.session_update("s1", desired="elsewhere")
    finally:
        db.close()
    NodeDatabase(path).close()  # opening an upgraded file again changes nothing
