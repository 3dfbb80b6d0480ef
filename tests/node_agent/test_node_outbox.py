import pytest

from node_agent.protocol import MESSAGE_STATUS_PATH, SESSION_STATUS_PATH
from node_agent.runtime import NodeRuntime
from tests.node_agent.node_helpers import outbox_drained, wait_until


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr("node_agent.outbox.backoff_s", lambda attempt: 0.01)


def report_three(runtime):
    for status in ("INITIALIZING", "QR_REQUIRED", "CONNECTED"):
        runtime.reporter.session_status("x", status)


def accepted_statuses(backend):
    return [b["status"] for b in backend.bodies(SESSION_STATUS_PATH, sessionId="x")]


# 401/403: the node's credential was refused (revoked, or another node's): the reports wait.
@pytest.mark.parametrize("failure", [500, 503, 429, 408, 401, 403, 0])
def test_outbox_retries_until_accepted_once_in_order(runtime, backend, fast_backoff, failure):
    backend.answer(SESSION_STATUS_PATH, failure, failure)
    report_three(runtime)

    outbox_drained(runtime)
    assert accepted_statuses(backend) == ["INITIALIZING", "QR_REQUIRED", "CONNECTED"]
    attempts = [r["body"]["status"] for r in backend.received(SESSION_STATUS_PATH, ok_only=False)]
    assert attempts == ["INITIALIZING"] * 3 + ["QR_REQUIRED", "CONNECTED"]


def test_outbox_survives_restart(make_config, backend, fast_backoff):
    config = make_config()
    backend.default_status = 500
    first = NodeRuntime(config)
    first.start()
    report_three(first)
    wait_until(lambda: backend.received(SESSION_STATUS_PATH, ok_only=False), message="a failed try")
    first.shutdown(flush_timeout_s=0)
    assert accepted_statuses(backend) == []

    backend.default_status = 200
    second = NodeRuntime(config)
    second.start()
    try:
        outbox_drained(second)
        assert accepted_statuses(backend) == ["INITIALIZING", "QR_REQUIRED", "CONNECTED"]
    finally:
        second.shutdown(flush_timeout_s=0)


def test_rejected_report_is_dropped(runtime, backend, fast_backoff):
    backend.answer(SESSION_STATUS_PATH, 400)
    report_three(runtime)

    outbox_drained(runtime)
    assert accepted_statuses(backend) == ["QR_REQUIRED", "CONNECTED"]
    assert len(backend.received(SESSION_STATUS_PATH, ok_only=False)) == 3


def test_unreachable_backend_keeps_reports(make_runtime, fast_backoff):
    runtime = make_runtime(backend_url="http://127.0.0.1:9")
    report_three(runtime)

    assert runtime.db.outbox_count() == 3
    assert runtime.status()["outboxPending"] == 3


def test_an_unencodable_report_is_dropped_and_does_not_jam_the_outbox(runtime, backend):
    runtime.reporter.message_received(
        "s1",
        {
            "id": "WA1",
            "from": "6281200000005",
            "chatId": "6281200000005@s.whatsapp.net",
            "type": "location",
            "location": {"latitude": float("nan"), "longitude": 1.0},
        },
    )
    runtime.reporter.session_status("s1", "CONNECTED", phone_number="6281200000100")
    wait_until(lambda: backend.statuses("s1"), message="the report behind the bad one")
    # The sender deletes a report just after the backend answered: wait for that too.
    outbox_drained(runtime)


def test_a_backlog_leaves_in_few_requests_and_in_order(make_runtime, backend, fast_backoff):
    backend.default_status = 503  # the backend is down while the reports pile up
    runtime = make_runtime()
    for n in range(450):
        runtime.reporter.session_status("x", "QR_REQUIRED", qr_string=f"2@{n}")
    wait_until(lambda: backend.batches, message="a first try")
    backend.default_status = 200
    outbox_drained(runtime)
    qrs = [b["qrString"] for b in backend.bodies(SESSION_STATUS_PATH, sessionId="x")]
    assert qrs == [f"2@{n}" for n in range(450)]
    delivered = [len(batch["paths"]) for batch in backend.batches if batch["status"] == 200]
    assert sum(delivered) == 450
    assert delivered[:2] == [200, 200]  # at most 200 a request; the backlog in three


def test_a_report_refused_inside_a_batch_is_dropped_and_the_others_apply(
    make_runtime, backend, fast_backoff
):
    backend.default_status = 503
    runtime = make_runtime()
    runtime.reporter.session_status("x", "INITIALIZING")
    runtime.reporter.message_status("x", "msg_1", "sent", wa_message_id="WA1")
    runtime.reporter.session_status("x", "CONNECTED")
    wait_until(lambda: backend.batches, message="a first try")
    backend.answer(MESSAGE_STATUS_PATH, 404)
    backend.default_status = 200
    outbox_drained(runtime)
    assert accepted_statuses(backend) == ["INITIALIZING", "CONNECTED"]
    assert [r["answered"] for r in backend.received(MESSAGE_STATUS_PATH, ok_only=False)] == [404]


def test_a_backend_without_batches_gets_one_report_a_request(runtime, backend, fast_backoff):
    backend.batches = None
    report_three(runtime)
    outbox_drained(runtime)
    assert accepted_statuses(backend) == ["INITIALIZING", "QR_REQUIRED", "CONNECTED"]
    assert len(backend.received(SESSION_STATUS_PATH)) == 3


def test_under_load_a_batch_lingers_to_fill_and_after_a_quiet_spell_a_report_goes_alone(
    make_runtime, backend
):
    runtime = make_runtime(report_linger_s=0.5)
    runtime.reporter.session_status("x", "INITIALIZING")  # quiet before: it goes alone
    wait_until(lambda: backend.batches, message="the first batch")
    for n in range(5):  # a request went out a moment ago: these wait for one another
        runtime.reporter.message_status("x", f"msg_{n}", "sent", wa_message_id=f"WA{n}")
    outbox_drained(runtime)
    # The first alone, then the five together (without the linger: a request for the first).
    assert [len(batch["paths"]) for batch in backend.batches] == [1, 5]
