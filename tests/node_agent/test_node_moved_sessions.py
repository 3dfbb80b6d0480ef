from node_agent.backend import REGISTER_PATH, heartbeat_path
from node_agent.heartbeat import Heartbeat
from tests.node_agent.node_helpers import connect, wait_until

HEARTBEAT_PATH = heartbeat_path("node-test")


def _heartbeat(runtime):
    return Heartbeat(
        runtime.config,
        "http://127.0.0.1:8001/health",
        runtime.status,
        engines=list(runtime.engines),
        running_fn=runtime.running_session_ids,
        release_fn=runtime.sessions_release,
    )


def test_registration_stops_sessions_that_moved_and_reports_nothing_for_them(runtime, backend):
    connect(runtime, backend, session_id="moved", phone="6281200000101")
    connect(runtime, backend, session_id="mine", phone="6281200000102")
    reports_before = len(backend.statuses("moved"))
    backend.data[REGISTER_PATH] = {"workerId": "node-test", "stopSessions": ["moved", "unknown"]}
    beat = _heartbeat(runtime)

    assert beat.register_once()

    (register,) = backend.bodies(REGISTER_PATH)
    assert sorted(register["runningSessions"]) == ["mine", "moved"]
    sandbox = runtime.engines["sandbox"]
    assert not sandbox.is_running("moved")
    assert sandbox.is_running("mine")
    assert runtime.store.session_get("moved")["desired"] == "stopped"
    assert runtime.store.session_get("moved")["credentials"] is not None  # no logout
    assert runtime.running_session_ids() == ["mine"]
    wait_until(lambda: runtime.store.outbox_count() == 0, message="outbox empty")
    assert len(backend.statuses("moved")) == reports_before


def test_heartbeat_answer_stops_sessions_that_moved(runtime, backend):
    connect(runtime, backend, session_id="moved", phone="6281200000103")
    beat = _heartbeat(runtime)
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
    assert not _heartbeat(runtime).register_once()
    assert runtime.engines["sandbox"].is_running("s1")
