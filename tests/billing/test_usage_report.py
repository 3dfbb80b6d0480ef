"""A node's hourly usage report: stored per node, session and hour, replaced on a repeat, and
reconciled with the message ledger (mismatches go to the System log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import resolve
from rest_framework.test import APIClient

from billing.api.views import UsageReportApi, UsageReportInput
from billing.models import NodeUsageReport
from gateway.models import SystemLog
from node_agent import protocol
from node_agent.clock import format_ts
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, WorkerFactory

pytestmark = pytest.mark.django_db

PATH = protocol.USAGE_REPORT_PATH
HOUR = datetime(2026, 11, 30, 14, tzinfo=UTC)


def report(*lines, worker_id="node-a", start=HOUR):
    """The wire body a node sends (protocol.UsageReport) for `lines` (sessionId, sent, received)."""
    return protocol.UsageReport(
        worker_id=worker_id,
        period_start=format_ts(start),
        period_end=format_ts(start + timedelta(hours=1)),
        sessions=[
            {"sessionId": s, "sent": sent, "received": received} for s, sent, received in lines
        ],
    ).to_wire()


def on_node_a():
    """A connected session on node-a, the node the reports come from by default."""
    return ConnectedSessionFactory(worker=WorkerFactory(id="node-a"))


def sent_messages(session, *minutes, node="node-a"):
    """Ledger rows of `session` sent by `node` at HOUR + each of `minutes` (60: the next hour)."""
    for minute in minutes:
        OutboundMessageFactory(
            session=session, status="sent", sent_at=HOUR + timedelta(minutes=minute), node_id=node
        )


def usage_logs(event=None):
    logs = SystemLog.objects.filter(event__startswith="usage.")
    return list(logs.filter(event=event) if event else logs)


def post(node_api, body):
    return node_api.post(PATH, body, format="json")


def test_the_backend_reads_every_field_of_the_node_report_at_its_path():
    assert set(UsageReportInput().fields) == set(protocol.UsageReport.wire_fields())
    assert resolve(PATH).func.view_class is UsageReportApi


def test_a_report_that_matches_the_ledger_is_stored_and_logs_nothing(node_api):
    session = on_node_a()
    sent_messages(session, 0, 30, 59.99)
    sent_messages(session, 60, -1)  # the next hour, the one before
    OutboundMessageFactory(session=session)  # queued: never sent

    response = post(node_api, report((session.id, 3, 5)))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "success": True,
        "data": {
            "workerId": "node-a",
            "periodStart": "2026-11-30T14:00:00Z",
            "periodEnd": "2026-11-30T15:00:00Z",
            "applied": 1,
            "mismatched": [],
            "unknown": [],
            "refused": [],
        },
    }
    row = NodeUsageReport.objects.get()
    assert (row.worker_id, row.session_id, row.user_id) == ("node-a", session.id, session.owner_id)
    assert (row.period_start, row.period_end) == (HOUR, HOUR + timedelta(hours=1))
    assert (row.sent, row.received, row.reconciled_sent) == (3, 5, 3)
    assert usage_logs() == []


def test_a_repeated_report_replaces_the_counts_and_never_adds(node_api):
    session = on_node_a()
    sent_messages(session, 1, 2)
    assert post(node_api, report((session.id, 2, 4))).status_code == 200
    assert post(node_api, report((session.id, 2, 4))).status_code == 200
    assert post(node_api, report((session.id, 2, 7))).status_code == 200

    row = NodeUsageReport.objects.get()
    assert (row.sent, row.received, row.reconciled_sent) == (2, 7, 2)
    # Another hour and another node are rows of their own.
    post(node_api, report((session.id, 1, 1), start=HOUR + timedelta(hours=1)))
    assert NodeUsageReport.objects.count() == 2


def test_a_mismatch_with_the_ledger_writes_one_system_log_with_both_counts(node_api):
    session = on_node_a()
    sent_messages(session, 10, 20)

    response = post(node_api, report((session.id, 5, 0)))
    post(node_api, report((session.id, 5, 0)))  # the outbox sent it again

    assert response.status_code == 200
    assert response.json()["data"]["mismatched"] == [session.id]
    [entry] = usage_logs()
    assert (entry.event, entry.level) == ("usage.mismatch", SystemLog.Level.WARNING)
    assert (entry.session_id, entry.worker_id, entry.user_id) == (
        session.id,
        "node-a",
        session.owner_id,
    )
    assert "5 sent" in entry.message
    assert "ledger has 2" in entry.message
    assert "2026-11-30 14:00-15:00 UTC" in entry.message
    assert (entry.data["nodeSent"], entry.data["ledgerSent"]) == (5, 2)
    assert NodeUsageReport.objects.get().reconciled_sent == 2

    # A repeat with other counts is compared again.
    post(node_api, report((session.id, 4, 0)))
    assert [e.data["nodeSent"] for e in usage_logs()] == [4, 5]


def test_a_session_that_moved_in_the_hour_is_compared_with_both_nodes_reports(node_api):
    session = ConnectedSessionFactory(worker=WorkerFactory(id="node-b"))  # moved a -> b
    sent_messages(session, 5)
    sent_messages(session, 50, node="node-b")

    first = post(node_api, report((session.id, 1, 0), worker_id="node-a"))
    second = post(node_api, report((session.id, 1, 3), worker_id="node-b"))

    assert first.json()["data"]["mismatched"] == [session.id]  # node-b had not reported yet
    assert second.json()["data"]["mismatched"] == []
    assert len(usage_logs("usage.mismatch")) == 1
    assert sorted(NodeUsageReport.objects.values_list("worker_id", "sent", "received")) == [
        ("node-a", 1, 0),
        ("node-b", 1, 3),
    ]


def test_an_unknown_session_is_stored_without_a_user_and_logged_once(node_api):
    known = on_node_a()
    sent_messages(known, 1)
    body = report(("ses_gone", 2, 1), (known.id, 1, 0))

    response = post(node_api, body)
    post(node_api, body)

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["applied"], data["mismatched"], data["unknown"]) == (2, [], ["ses_gone"])
    gone = NodeUsageReport.objects.get(session_id="ses_gone")
    assert (gone.user_id, gone.sent, gone.received, gone.reconciled_sent) == (None, 2, 1, None)
    [entry] = usage_logs()
    assert (entry.event, entry.session_id) == ("usage.unknown_session", "ses_gone")


def test_a_report_without_sessions_is_accepted_and_stores_nothing(node_api):
    response = post(node_api, report())
    assert response.status_code == 200
    assert response.json()["data"]["applied"] == 0
    assert not NodeUsageReport.objects.exists()


GOOD = report(("ses_1", 1, 1))
BAD_BODIES = {
    "a list": [GOOD],
    "no workerId": {k: v for k, v in GOOD.items() if k != "workerId"},
    "a bad workerId": {**GOOD, "workerId": "no spaces allowed"},
    "no sessions": {k: v for k, v in GOOD.items() if k != "sessions"},
    "sessions not a list": {**GOOD, "sessions": {"sessionId": "ses_1"}},
    "a timestamp that is none": {**GOOD, "periodStart": "yesterday"},
    "a start off the hour": {
        **GOOD,
        "periodStart": "2026-11-30T14:30:00Z",
        "periodEnd": "2026-11-30T15:30:00Z",
    },
    "two hours": {**GOOD, "periodEnd": "2026-11-30T16:00:00Z"},
    "a negative count": {**GOOD, "sessions": [{"sessionId": "ses_1", "sent": -1, "received": 0}]},
    "a count that is text": {
        **GOOD,
        "sessions": [{"sessionId": "ses_1", "sent": "x", "received": 0}],
    },
    "a session twice": {**GOOD, "sessions": GOOD["sessions"] * 2},
    "a session line without counts": {**GOOD, "sessions": [{"sessionId": "ses_1"}]},
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_malformed_report_is_400_validation_error_and_stores_nothing(node_api, body):
    response = post(node_api, body)
    assert response.status_code == 400, response.content
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "validation_error"
    assert not NodeUsageReport.objects.exists()


def test_a_body_that_is_not_json_is_400_invalid_json(node_api):
    response = node_api.generic("POST", PATH, b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("authorization", ["Bearer wrong-token", "", "Basic abc"])
def test_a_wrong_node_token_is_401_and_stores_nothing(authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.post(PATH, GOOD, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert not NodeUsageReport.objects.exists()


def test_a_node_cannot_report_usage_of_a_session_it_never_served(node_api):
    theirs = ConnectedSessionFactory(worker=WorkerFactory(id="node-b"))
    mine = on_node_a()
    sent_messages(theirs, 5, node="node-b")
    answer = post(node_api, report((theirs.id, 9999, 5), (mine.id, 0, 0)))
    data = answer.json()["data"]
    assert (data["applied"], data["refused"]) == (1, [theirs.id])
    assert not NodeUsageReport.objects.filter(session_id=theirs.id).exists()
    assert not usage_logs("usage.mismatch")
