import re

from node_agent.engines.sandbox_phone import sandbox_phone
from node_agent.runtime import NodeRuntime
from tests.node_agent.node_helpers import TOKEN, connect, network_of, outbox_drained, wait_until

QR_SHAPE = re.compile(
    r"^2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]{44},[A-Za-z0-9+/=]{44},[A-Za-z0-9+/=]{44}$"
)
TS_SHAPE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def names(backend, session_id):
    return [status for status, _ in backend.statuses(session_id)]


def test_qr_rotates_then_fails_with_qr_timeout(make_runtime, backend):
    runtime = make_runtime(sandbox_qr_first_ttl_s=0.3, sandbox_qr_ttl_s=0.1, sandbox_qr_count=4)
    runtime.session_start("s1", "u1", "sandbox")

    wait_until(lambda: "FAILED" in names(backend, "s1"), message="FAILED")
    reports = backend.statuses("s1")
    assert [s for s, _ in reports] == ["INITIALIZING"] + ["QR_REQUIRED"] * 4 + ["FAILED"]
    qrs = [b for s, b in reports if s == "QR_REQUIRED"]
    assert [b["qrIndex"] for b in qrs] == [1, 2, 3, 4]
    assert len({b["qrString"] for b in qrs}) == 4
    assert all(QR_SHAPE.match(b["qrString"]) for b in qrs)
    assert all(TS_SHAPE.match(b["qrExpiresAt"]) for b in qrs)
    assert reports[-1][1]["reason"] == "qr_timeout"
    stamps = [b["timestamp"] for _, b in reports]
    assert all(TS_SHAPE.match(t) for t in stamps)
    assert stamps == sorted(set(stamps))
    assert runtime.db.session_get("s1")["desired"] == "stopped"


def test_scan_connects_with_given_phone(runtime, backend):
    report = connect(runtime, backend, phone="6281200000100")

    assert report["phoneNumber"] == "6281200000100"
    assert report["jid"] == "6281200000100@s.whatsapp.net"
    row = runtime.db.session_get("s1")
    assert row["status"] == "CONNECTED"
    assert row["credentials"]["jid"] == "6281200000100@s.whatsapp.net"
    assert network_of(runtime).device_get("s1")["phone"] == "6281200000100"


def test_scan_without_phone_uses_deterministic_sandbox_phone(runtime, backend):
    runtime.session_start("s1", "u1", "sandbox")
    wait_until(lambda: "QR_REQUIRED" in names(backend, "s1"))
    runtime.sandbox_action("s1", "scan", {})

    wait_until(lambda: "CONNECTED" in names(backend, "s1"))
    phone = backend.statuses("s1")[-1][1]["phoneNumber"]
    assert phone == sandbox_phone("s1")
    assert re.fullmatch(r"1555\d{7}", phone)


def test_scan_with_stale_qr_is_ignored(runtime, backend):
    runtime.session_start("s1", "u1", "sandbox")
    qr = wait_until(lambda: [b for s, b in backend.statuses("s1") if s == "QR_REQUIRED"])[0]
    runtime.sandbox_action("s1", "scan", {"qrString": "2@old,a,b,c"})
    runtime.sandbox_action("s1", "scan", {"qrString": qr["qrString"], "phoneNumber": "62811"})

    wait_until(lambda: "CONNECTED" in names(backend, "s1"))
    assert names(backend, "s1").count("CONNECTED") == 1


def test_pairing_code_links_with_its_phone(runtime, backend):
    runtime.session_start("s1", "u1", "sandbox", method="pairing_code", phone_number="+62 812-3")
    pairing = wait_until(lambda: [b for s, b in backend.statuses("s1") if s == "PAIRING"])[0]
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", pairing["pairingCode"])
    assert pairing["phoneNumber"] == "628123"
    runtime.sandbox_action("s1", "scan", {})

    wait_until(lambda: "CONNECTED" in names(backend, "s1"))
    assert backend.statuses("s1")[-1][1]["phoneNumber"] == "628123"


def test_start_twice_repeats_status_instead_of_restarting(runtime, backend):
    connect(runtime, backend)
    runtime.session_start("s1", "u1", "sandbox")

    wait_until(lambda: names(backend, "s1").count("CONNECTED") == 2)
    assert names(backend, "s1") == ["INITIALIZING", "QR_REQUIRED", "CONNECTED", "CONNECTED"]


def test_unknown_engine_is_unavailable(runtime, backend):
    runtime.session_start("s1", "u1", "telegram")

    report = wait_until(lambda: backend.statuses("s1"))[0]
    assert report[0] == "FAILED"
    assert report[1]["reason"] == "engine_unavailable"


def test_logout_from_phone_deletes_credentials(runtime, backend):
    connect(runtime, backend)
    runtime.sandbox_action("s1", "logout", {})

    wait_until(lambda: "LOGGED_OUT" in names(backend, "s1"))
    assert backend.statuses("s1")[-1][1]["reason"] == "logged_out_from_phone"
    row = runtime.db.session_get("s1")
    assert row["credentials"] is None
    assert row["desired"] == "stopped"
    assert network_of(runtime).device_get("s1") is None


def test_disconnect_reconnects_by_itself(runtime, backend):
    connect(runtime, backend)
    runtime.sandbox_action("s1", "disconnect", {})

    wait_until(lambda: names(backend, "s1")[-2:] == ["RECONNECTING", "CONNECTED"])
    assert [b for s, b in backend.statuses("s1") if s == "RECONNECTING"][0]["reason"] == (
        "connection_lost"
    )


def test_stop_keeps_credentials_and_logout_removes_them(runtime, backend):
    connect(runtime, backend)
    runtime.session_stop("s1")
    wait_until(lambda: names(backend, "s1")[-1] == "DISCONNECTED")
    row = runtime.db.session_get("s1")
    assert (row["desired"], row["credentials"] is not None) == ("stopped", True)

    runtime.session_logout("s1")
    wait_until(lambda: names(backend, "s1")[-1] == "LOGGED_OUT")
    assert backend.statuses("s1")[-1][1]["reason"] == "logged_out"
    assert runtime.db.session_get("s1")["credentials"] is None
    assert network_of(runtime).device_get("s1") is None


def test_delete_forgets_session(runtime, backend):
    connect(runtime, backend)
    runtime.session_delete("s1")
    runtime.session_delete("s1")

    assert runtime.db.session_get("s1") is None
    assert not runtime.engines["sandbox"].is_running("s1")
    assert network_of(runtime).device_get("s1") is None


def test_restart_resumes_linked_session_and_leaves_stopped_one(make_config, backend):
    config = make_config()
    first = NodeRuntime(config)
    first.start()
    connect(first, backend, "linked", phone="6281200000100")
    connect(first, backend, "stopped", phone="6281200000200")
    first.session_stop("stopped")
    first.shutdown(flush_timeout_s=5)
    assert names(backend, "linked")[-1] == "DISCONNECTED"
    before = len(backend.statuses("stopped"))

    second = NodeRuntime(config)
    second.start()
    try:
        wait_until(lambda: names(backend, "linked")[-1] == "CONNECTED")
        assert names(backend, "linked")[-2:] == ["INITIALIZING", "CONNECTED"]
        assert backend.statuses("linked")[-1][1]["phoneNumber"] == "6281200000100"
        assert "QR_REQUIRED" not in names(backend, "linked")[3:]
        assert len(backend.statuses("stopped")) == before
        assert not second.engines["sandbox"].is_running("stopped")
        stamps = [b["timestamp"] for _, b in backend.statuses("linked")]
        assert stamps == sorted(stamps)
    finally:
        second.shutdown(flush_timeout_s=0)


def test_restart_of_unlinked_session_starts_new_qr_cycle(make_config, backend):
    config = make_config()
    first = NodeRuntime(config)
    first.start()
    first.session_start("s1", "u1", "sandbox")
    wait_until(lambda: "QR_REQUIRED" in names(backend, "s1"))
    first.shutdown(flush_timeout_s=5)

    second = NodeRuntime(config)
    second.start()
    try:
        wait_until(lambda: names(backend, "s1")[-1] == "QR_REQUIRED")
        assert names(backend, "s1") == [
            "INITIALIZING",
            "QR_REQUIRED",
            "DISCONNECTED",
            "INITIALIZING",
            "QR_REQUIRED",
        ]
    finally:
        second.shutdown(flush_timeout_s=0)


def test_reports_carry_bearer_token(runtime, backend):
    runtime.session_start("s1", "u1", "sandbox")
    wait_until(lambda: backend.statuses("s1"))
    assert backend.received()[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_scanned_session_stays_connected_past_the_qr_window(make_runtime, backend):
    # A first QR that lives long enough for the scan to come first on a loaded machine.
    runtime = make_runtime(sandbox_qr_first_ttl_s=0.5, sandbox_qr_ttl_s=0.1, sandbox_qr_count=3)
    runtime.session_start("s1", "u1", "sandbox")
    wait_until(lambda: "QR_REQUIRED" in names(backend, "s1"))
    runtime.sandbox_action("s1", "scan", {})
    wait_until(lambda: "CONNECTED" in names(backend, "s1"))

    # Every rotation still pending is due within the whole QR window (0.5 + 2 x 0.1 s) from
    # now, and timers fire in due order: once one due after the window has fired, they have.
    assert runtime.engines["sandbox"].wait_idle(after_s=0.8)
    outbox_drained(runtime)  # and whatever they reported has reached the backend
    assert names(backend, "s1") == ["INITIALIZING", "QR_REQUIRED", "CONNECTED"]
    assert runtime.db.session_get("s1")["status"] == "CONNECTED"
