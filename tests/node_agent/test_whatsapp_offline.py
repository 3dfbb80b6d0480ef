"""Real neonize connects that cannot reach WhatsApp.

Every connect goes through a closed loopback proxy, so it fails at once (as offline) and no
DNS query leaves the machine.
"""

import os
import time

from node_agent.engines.whatsapp import connection
from node_agent.engines.whatsapp.ffi import open_fd_count
from node_agent.heartbeat import Heartbeat
from tests.node_agent.node_helpers import outbox_drained, wait_until
from tests.node_agent.whatsapp_helpers import closed_proxy, names, wait_status

FAST = {
    "whatsapp_retry_min_s": 0.1,
    "whatsapp_retry_max_s": 1.6,
    "whatsapp_retry_jitter": 0.2,
    "whatsapp_start_spacing_s": 0.0,
}


def offline(**overrides):
    return {"whatsapp_proxy_url": closed_proxy(), **overrides}


def attempt_times(engine, count, timeout_s=15.0):
    """Record when engine.connects grows, until `count` connect() calls were made."""
    times, seen = [], engine.connects
    deadline = time.monotonic() + timeout_s
    while len(times) < count and time.monotonic() < deadline:
        if engine.connects != seen:
            seen = engine.connects
            times.append(time.monotonic())
        time.sleep(0.005)
    return times


def test_first_connect_fails_fast_and_visibly_then_backs_off(make_wa_runtime, backend):
    runtime = make_wa_runtime(connect=True, **offline(whatsapp_probe_timeout_s=0, **FAST))
    engine = runtime.engines["whatsapp"]
    started = time.monotonic()
    runtime.session_start("w1", "u1", "whatsapp")

    failed = wait_status(backend, "w1", "FAILED", timeout_s=5)
    assert failed["reason"] == "whatsapp_unreachable"
    assert time.monotonic() - started < 5
    times = attempt_times(engine, 5)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == 4
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
    assert names(backend, "w1") == ["INITIALIZING", "FAILED"]  # one report, not one per try
    row = runtime.db.session_get("w1")
    assert row["desired"] == "running"  # still trying
    assert engine.is_running("w1")
    assert os.path.exists(engine.device_store_name("w1"))  # one SQLite device store per session


def test_probe_keeps_file_descriptors_flat_over_many_retries(make_wa_runtime, backend, monkeypatch):
    probes = []
    real_probe = connection.probe_whatsapp

    def counted_probe(*args):
        probes.append(1)
        return real_probe(*args)

    monkeypatch.setattr(connection, "probe_whatsapp", counted_probe)
    runtime = make_wa_runtime(
        connect=True,
        **offline(whatsapp_retry_min_s=0.01, whatsapp_retry_max_s=0.02, whatsapp_retry_jitter=0),
    )
    engine = runtime.engines["whatsapp"]
    runtime.session_start("w1", "u1", "whatsapp")
    assert wait_status(backend, "w1", "FAILED")["reason"] == "whatsapp_unreachable"
    before, tried = open_fd_count(), len(probes)
    wait_until(lambda: len(probes) >= tried + 75, message="75 more retries")

    assert engine.connects == 0  # the probe failed first: connect() was never called
    assert open_fd_count() - before <= 3


def test_fd_budget_drains_the_node_and_stops_connecting(make_wa_runtime, backend):
    budget = open_fd_count() + 20  # far below the real limit: reached after a few leaks
    runtime = make_wa_runtime(
        connect=True,
        **offline(
            whatsapp_probe_timeout_s=0,
            whatsapp_fd_budget=budget,
            whatsapp_start_spacing_s=0,
            whatsapp_retry_min_s=0.01,
            whatsapp_retry_max_s=0.01,
            whatsapp_retry_jitter=0,
        ),
    )
    engine = runtime.engines["whatsapp"]
    runtime.session_start("w1", "u1", "whatsapp")

    wait_until(lambda: engine.draining, timeout_s=20, message="draining")
    wait_until(lambda: len(names(backend, "w1")) == 3)
    reasons = [b.get("reason") for _, b in backend.statuses("w1")]
    assert reasons == [None, "whatsapp_unreachable", "node_draining"]
    connects = engine.connects
    # The session's thread parks (state `draining`) instead of connecting again.
    wait_until(lambda: engine.run_state("w1") == "draining", message="parked")
    assert engine.connects == connects  # no more leaking connects
    assert open_fd_count() <= budget + 5
    beat = Heartbeat(runtime.config, "http://127.0.0.1:1/health", runtime.status, ["whatsapp"])
    assert beat.heartbeat_body()["status"] == "DRAINING"
    assert runtime.status()["draining"] is True


def test_shutdown_returns_promptly_with_sessions_parked_in_retries(make_wa_runtime, backend):
    runtime = make_wa_runtime(
        connect=True, **offline(whatsapp_retry_min_s=60, whatsapp_retry_max_s=60)
    )
    for index in range(5):
        runtime.session_start(f"w{index}", "u1", "whatsapp")
    for index in range(5):
        wait_status(backend, f"w{index}", "FAILED")

    started = time.monotonic()
    runtime.shutdown(flush_timeout_s=0)
    assert time.monotonic() - started < 2


def test_restart_resumes_sessions_from_their_stores_and_stopped_stays_stopped(
    make_wa_runtime, make_config, backend
):
    config = make_config(**offline(whatsapp_probe_timeout_s=0, **FAST))
    first = make_wa_runtime(connect=True, config=config)
    for session_id in ("w1", "w2", "w3"):
        first.session_start(session_id, "u1", "whatsapp")
        wait_status(backend, session_id, "FAILED")
        # As if each had been paired: the node keeps a marker, the keys stay in the store.
        first.db.session_update(session_id, credentials={"jid": "62811:4@s.whatsapp.net"})
    first.session_stop("w2")
    engine = first.engines["whatsapp"]
    os.remove(engine.device_store_name("w3"))
    first.shutdown(flush_timeout_s=5)  # its DISCONNECTED reports arrive before `before` is taken
    before = {sid: len(backend.statuses(sid)) for sid in ("w1", "w2", "w3")}

    second = make_wa_runtime(connect=True, config=config)
    engine = second.engines["whatsapp"]

    wait_until(lambda: len(backend.statuses("w1")) >= before["w1"] + 2, message="w1 resumed")
    assert [s for s, _ in backend.statuses("w1")[before["w1"] :]][:2] == [
        "INITIALIZING",
        "FAILED",
    ]
    assert engine.is_running("w1")
    assert engine.client_of("w1").name == engine.device_store_name("w1")
    assert engine.client_of("w1").jid is None  # SQLite: the store's only device, never a JID
    assert wait_status(backend, "w3", "LOGGED_OUT")["reason"] == "session_store_missing"
    outbox_drained(second)  # the restore ran in start(): whatever it reported has arrived
    assert not engine.is_running("w2")
    assert len(backend.statuses("w2")) == before["w2"]
    assert second.db.session_get("w2")["desired"] == "stopped"


def test_starting_a_failed_session_retries_at_once(make_wa_runtime, backend):
    runtime = make_wa_runtime(
        connect=True, **offline(whatsapp_retry_min_s=60, whatsapp_retry_max_s=60)
    )
    runtime.session_start("w1", "u1", "whatsapp")
    wait_status(backend, "w1", "FAILED")
    runtime.session_start("w1", "u1", "whatsapp")

    wait_until(lambda: names(backend, "w1") == ["INITIALIZING", "FAILED"] * 2)
