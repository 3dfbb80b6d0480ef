"""The main path end to end, on real processes: key, sandbox session, QR, scan, send, receipts."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from tests.e2e.stack import Api, wait_for

pytestmark = pytest.mark.e2e


def _status(api: Api, session_id: str) -> str:
    return api.ok("GET", f"/api/v1/sessions/{session_id}/status")["status"]


def _message_status(api: Api, message_id: str) -> dict:
    return api.ok("GET", f"/api/v1/messages/{message_id}")


def _ledger(stack, message_id: str) -> list[tuple]:
    path = stack.env["SANDBOX_NETWORK_PATH"]
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        table = "ledger" if "ledger" in tables else next(t for t in tables if "ledger" in t)
        return conn.execute(f"SELECT * FROM {table} WHERE message_id = ?", (message_id,)).fetchall()


def drive_main_path(stack) -> None:
    api = Api(stack.base_url, stack.create_api_key("e2e@example.com"))

    session = api.ok("POST", "/api/v1/sessions", json={"name": "E2E", "engine": "sandbox"})
    session_id = session["sessionId"]
    assert session["status"] == "DISCONNECTED"

    # Sending before the session is connected is refused and stores nothing.
    status, body = api.call(
        "POST",
        "/api/v1/messages",
        json={"sessionId": session_id, "to": "+15550002222", "text": "x"},
    )
    assert (status, body["error"]["code"]) == (409, "session_not_connected")

    connected = api.ok("POST", f"/api/v1/sessions/{session_id}/connect", json={"method": "qr"})
    assert connected["status"] == "INITIALIZING"

    qr = wait_for(
        lambda: (q := api.ok("GET", f"/api/v1/sessions/{session_id}/qr"))["qrCode"] and q,
        timeout_s=20,
        what="a QR code",
    )
    assert qr["status"] == "QR_REQUIRED"
    assert qr["qrCode"].startswith("data:image/png;base64,")
    assert qr["qrString"].startswith("2@")

    # A stale QR string is refused; the current one links the sandbox phone.
    status, body = api.call(
        "POST", f"/api/v1/sessions/{session_id}/sandbox/scan", json={"qrString": "2@stale,a,b,c"}
    )
    assert (status, body["error"]["code"]) == (409, "qr_expired")
    api.ok(
        "POST",
        f"/api/v1/sessions/{session_id}/sandbox/scan",
        json={"qrString": qr["qrString"], "phoneNumber": "+1 555 000 1111"},
    )
    wait_for(lambda: _status(api, session_id) == "CONNECTED", timeout_s=20, what="CONNECTED")
    detail = api.ok("GET", f"/api/v1/sessions/{session_id}")
    assert detail["phoneNumber"] == "15550001111"

    sent = api.ok(
        "POST",
        "/api/v1/messages",
        json={"sessionId": session_id, "to": "+62 812-0000-0001", "text": "Halo dari gateway 👋"},
    )
    assert (sent["status"], sent["to"], sent["chatId"]) == (
        "queued",
        "6281200000001",
        "6281200000001@s.whatsapp.net",
    )
    final = wait_for(
        lambda: (m := _message_status(api, sent["messageId"]))["status"] == "read" and m,
        timeout_s=30,
        what="the message to be read",
    )
    assert final["sentAt"]
    assert final["deliveredAt"]
    assert final["waMessageId"]
    assert len(_ledger(stack, sent["messageId"])) == 1

    # A recipient that is not on WhatsApp ends failed with a reason.
    bad = api.ok(
        "POST",
        "/api/send",
        json={"sessionId": session_id, "to": "+1 555 000 0199", "text": "anyone?"},
    )
    failed = wait_for(
        lambda: (m := _message_status(api, bad["messageId"]))["status"] == "failed" and m,
        timeout_s=30,
        what="the message to fail",
    )
    assert failed["error"]["code"] == "recipient_not_on_whatsapp"


def test_main_path_on_postgres_redis_gunicorn(gateway_stack):
    drive_main_path(gateway_stack)


def test_main_path_on_embedded_default(embedded_stack):
    drive_main_path(embedded_stack)


def test_node_restart_keeps_a_connected_session_connected(gateway_stack):
    stack = gateway_stack
    api = Api(stack.base_url, stack.create_api_key("restart@example.com"))
    session_id = api.ok("POST", "/api/v1/sessions", json={"name": "R", "engine": "sandbox"})[
        "sessionId"
    ]
    api.ok("POST", f"/api/v1/sessions/{session_id}/connect", json={})
    wait_for(lambda: _status(api, session_id) == "QR_REQUIRED", timeout_s=20, what="QR_REQUIRED")
    api.ok("POST", f"/api/v1/sessions/{session_id}/sandbox/scan", json={})
    wait_for(lambda: _status(api, session_id) == "CONNECTED", timeout_s=20, what="CONNECTED")

    seen_before = api.ok("GET", f"/api/v1/sessions/{session_id}")["lastSeenAt"]

    stack.stop("node:e2e-node-1", sig=signal.SIGKILL)
    stack.start_node()
    stack.wait_ready()

    # After the restart the node reports the session CONNECTED again, without a new scan.
    wait_for(
        lambda: (d := api.ok("GET", f"/api/v1/sessions/{session_id}"))["lastSeenAt"] > seen_before
        and d["status"] == "CONNECTED",
        timeout_s=20,
        what="a fresh CONNECTED report from the restarted node",
    )
    sent = api.ok(
        "POST",
        "/api/v1/messages",
        json={"sessionId": session_id, "to": "+15550003333", "text": "k"},
    )
    wait_for(
        lambda: _message_status(api, sent["messageId"])["status"] in ("delivered", "read"),
        timeout_s=30,
        what="delivery after the node restart",
    )
    assert api.ok("GET", f"/api/v1/sessions/{session_id}/qr")["qrCode"] is None
