"""What the node's SQLite keeps: a state change commits with its report, even if the process dies
between them; a power cut can take back only what the backend was not told (database.py)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from node_agent.database import NodeDatabase
from node_agent.protocol import MESSAGE_STATUS_PATH
from tests.node_agent.node_helpers import outbox_drained

REPO_ROOT = Path(__file__).resolve().parents[2]
TEXT = {"type": "text", "to": "6281200000001", "text": "hi"}

# A node process that records and hands m1, marks it sent as WA1 (with its report) unless
# `receipt` is empty, then dies (os._exit: no cleanup, as a kill) while queuing the next report.
CHILD = """
import os, sys
from node_agent.database import NodeDatabase
from node_agent.messages import Messages
from node_agent.reports import Reporter

path, receipt = sys.argv[1], sys.argv[2]
db = NodeDatabase(path)
reporter = Reporter(db, lambda: None, "node-test")
messages = Messages(db, reporter, engines={})
payload = {"type": "text", "to": "6281200000001", "text": "hi"}
message, _ = messages.record("m1", "s1", payload)
db.message_transition("m1", ("recorded",), "handed", durable=True)
if receipt:
    messages._sent(message, ("handed",), "WA1")
def die(*args, **kwargs):
    os._exit(9)
reporter.message_status = die
if receipt:
    messages.receipt("WA1", receipt)
else:
    messages._sent(message, ("handed",), "WA1")
"""


def run_child_until_it_dies(db_path, receipt=""):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(db_path), receipt],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 9, result.stderr.decode()


def test_a_crash_before_the_sent_report_is_queued_leaves_the_message_handed(tmp_path):
    db_path = tmp_path / "node.sqlite3"
    run_child_until_it_dies(db_path)

    db = NodeDatabase(str(db_path))
    # Not `sent` without its report (that report would never go): still `handed`, which the
    # next start reports failed `delivery_unknown` (test_node_messages).
    assert db.message_get("m1")["state"] == "handed"
    assert db.outbox_list() == []
    db.close()


def test_a_crash_before_a_receipt_is_reported_leaves_the_status_unchanged(tmp_path):
    db_path = tmp_path / "node.sqlite3"
    run_child_until_it_dies(db_path, receipt="read")

    db = NodeDatabase(str(db_path))
    message = db.message_get("m1")
    assert (message["state"], message["status"]) == ("sent", "sent")
    assert [r["body"]["status"] for r in db.outbox_list()] == ["sent"]
    db.close()


def test_a_receipt_applied_after_such_a_crash_is_reported(make_config, make_runtime, backend):
    config = make_config()
    run_child_until_it_dies(config.node_db_path, receipt="delivered")
    runtime = make_runtime(config=config)

    runtime.messages.receipt("WA1", "delivered")  # WhatsApp's receipt, coming again
    outbox_drained(runtime)
    assert [b["status"] for b in backend.bodies(MESSAGE_STATUS_PATH, messageId="m1")] == [
        "sent",
        "delivered",
    ]


def test_sync_is_one_durable_commit_only_when_something_was_written(tmp_path):
    db = NodeDatabase(str(tmp_path / "node.sqlite3"))
    db.sync()
    assert db.sync() is False
    db.outbox_add("/x", {"n": 1})  # not durable by itself
    assert db.sync() is True
    assert db.sync() is False
    db.message_record_out("m1", session_id="s1", chat_jid="c", type_="text", payload=TEXT)
    assert db.message_transition("m1", ("recorded",), "handed", durable=True)
    assert db.sync() is False  # the durable claim covered the record before it
    db.close()


def test_a_failed_transaction_writes_nothing(tmp_path):
    db = NodeDatabase(str(tmp_path / "node.sqlite3"))
    db.message_record_out("m1", session_id="s1", chat_jid="c", type_="text", payload=TEXT)
    try:
        with db.transaction():
            db.message_transition("m1", ("recorded",), "handed", durable=True)
            db.outbox_add("/x", {"n": 1})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert db.message_get("m1")["state"] == "recorded"
    assert db.outbox_list() == []
    db.close()


def test_reports_are_durable_before_the_backend_is_told(runtime, backend, monkeypatch):
    synced: set[int] = set()
    sent: list[int] = []
    real_sync, real_send = runtime.db.sync, runtime.outbox._send

    def sync():
        done = real_sync()
        synced.update(r["id"] for r in runtime.db.outbox_list())
        return done

    def send(reports):
        sent.extend(r["id"] for r in reports)
        assert {r["id"] for r in reports} <= synced, "a report left before it was durable"
        return real_send(reports)

    monkeypatch.setattr(runtime.db, "sync", sync)
    monkeypatch.setattr(runtime.outbox, "_send", send)
    for n in range(30):
        runtime.reporter.message_status("s1", f"m{n}", "sent", wa_message_id=f"WA{n}")
    outbox_drained(runtime)
    assert len(sent) == 30
