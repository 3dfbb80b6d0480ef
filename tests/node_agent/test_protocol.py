"""Both sides speak `node_agent.protocol`: the backend's routes and serializers take exactly its
reports, and the node registers exactly its tasks."""

import pytest
from django.urls import resolve

from node_agent import protocol
from node_agent import tasks as node_tasks
from sessions_app.reports.api import serializers as reports
from sessions_app.reports.api import views as report_views
from workers_app.api import views as worker_views

READERS = [
    (protocol.SessionStatusReport, reports.SessionStatusReportInput),
    (protocol.MessageStatusReport, reports.MessageStatusReportInput),
    (protocol.MessageReceivedReport, reports.MessageReceivedReportInput),
    (protocol.Registration, worker_views.RegisterInput),
    (protocol.Heartbeat, worker_views.HeartbeatInput),
    (protocol.ReportBatch, reports.ReportBatchInput),
]


@pytest.mark.parametrize(("shape", "serializer"), READERS, ids=lambda x: x.__name__)
def test_the_backend_reads_every_field_of_each_report_and_no_other(shape, serializer):
    assert set(serializer().fields) == set(shape.wire_fields())


@pytest.mark.parametrize(
    ("path", "view"),
    [
        (protocol.SESSION_STATUS_PATH, report_views.SessionStatusReportApi),
        (protocol.MESSAGE_STATUS_PATH, report_views.MessageStatusReportApi),
        (protocol.MESSAGE_RECEIVED_PATH, report_views.MessageReceivedReportApi),
        (protocol.MEDIA_UPLOAD_PATH, report_views.MediaUploadReportApi),
        (protocol.REPORTS_PATH, report_views.ReportBatchApi),
        (protocol.media_download_path("med_x"), report_views.NodeMediaDownloadApi),
        (protocol.REGISTER_PATH, worker_views.WorkerRegisterApi),
        (protocol.heartbeat_path("node-1"), worker_views.WorkerHeartbeatApi),
    ],
)
def test_every_path_a_node_calls_is_served_by_its_view(path, view):
    assert resolve(path).func.view_class is view


@pytest.mark.parametrize("task", protocol.NODE_TASKS, ids=lambda t: t.__name__)
def test_the_node_runs_every_task_of_the_protocol_under_its_name(task):
    registered = getattr(node_tasks, task.name.removeprefix(protocol.TASK_PREFIX))
    assert registered.name == task.name


def test_a_task_survives_the_wire_unchanged():
    start = protocol.SessionStart(session_id="ses_1", user_id=7, engine="sandbox")
    wire = start.to_wire()
    assert wire == {
        "sessionId": "ses_1",
        "userId": 7,
        "engine": "sandbox",
        "method": "qr",
        "phoneNumber": None,
        "calls": None,
    }
    assert protocol.SessionStart.from_wire({**wire, "newerField": 1}) == start
    with pytest.raises(TypeError):
        protocol.SessionStart.from_wire({"sessionId": "ses_1"})


def test_reports_leave_out_what_they_do_not_say():
    report = protocol.SessionStatusReport(
        session_id="ses_1", status="CONNECTED", worker_id="n1", timestamp="t", jid="1@s"
    )
    assert report.to_wire() == {
        "sessionId": "ses_1",
        "status": "CONNECTED",
        "workerId": "n1",
        "timestamp": "t",
        "jid": "1@s",
    }


def test_a_batch_has_a_handler_for_every_report_it_may_carry():
    assert set(report_views.HANDLERS) == set(protocol.BATCHED_PATHS)
