"""Every message type end to end through the sandbox, history, number checks, idempotency."""

from __future__ import annotations

import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.stack import Api, wait_for
from tests.sessions_app.media.samples import (
    b64,
    mp3_bytes,
    mp4_bytes,
    ogg_opus_bytes,
    pdf_bytes,
    png_bytes,
    webp_bytes,
)

pytestmark = pytest.mark.e2e
TO = "+62 812-0000-0001"


def _ledger(stack, message_id: str) -> list[dict]:
    with sqlite3.connect(stack.env["SANDBOX_NETWORK_PATH"]) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM ledger WHERE message_id = ?", (message_id,)).fetchall()
    return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


def _connected_session(api: Api) -> str:
    return api.link_sandbox("M")


BODIES = {
    "text": {"text": "Halo 👋 עברית e\u0301"},
    "image": {"media": {"base64": b64(png_bytes())}, "text": "caption ✓"},
    "video": {"media": {"base64": b64(mp4_bytes())}},
    "audio": {"media": {"base64": b64(mp3_bytes())}},
    "voice": {"media": {"base64": "data:audio/ogg;base64," + b64(ogg_opus_bytes())}},
    "document": {"media": {"base64": b64(pdf_bytes()), "filename": "Faktur März 文件.pdf"}},
    "sticker": {"media": {"base64": b64(webp_bytes())}},
    "location": {"location": {"latitude": -6.1754, "longitude": 106.8272, "name": "Monas"}},
    "contact": {"contact": {"name": "Budi", "phone": "+62 812-0000-0002"}},
    "reaction": {"reaction": {"messageId": "3EB0C0FFEE", "emoji": "👍"}},
}


def test_every_type_reaches_the_sandbox_ledger(gateway_stack):
    stack = gateway_stack
    api = Api(stack.base_url, stack.create_api_key("types@example.com"))
    session_id = _connected_session(api)
    sent = {}
    for type_, fields in BODIES.items():
        sent[type_] = api.ok(
            "POST",
            "/api/v1/messages",
            json={"sessionId": session_id, "to": TO, "type": type_, **fields},
        )
    # A multipart upload too.
    upload = requests.post(
        f"{stack.base_url}/api/v1/messages",
        headers=api.http.headers,
        data={"sessionId": session_id, "to": TO, "type": "document"},
        files={"file": ("Ünïcödé 🧾.pdf", pdf_bytes(), "application/pdf")},
        timeout=10,
    )
    assert upload.status_code == 202, upload.text
    sent["upload"] = upload.json()["data"]

    for type_, message in sent.items():
        wait_for(
            lambda m=message: api.ok("GET", f"/api/v1/messages/{m['messageId']}")["status"]
            in ("sent", "delivered", "read"),
            timeout_s=30,
            what=f"{type_} sent",
        )
        rows = _ledger(stack, message["messageId"])
        assert len(rows) == 1, type_
        payload = rows[0]["payload"]
        assert rows[0]["to_jid"] == "6281200000001@s.whatsapp.net"
        assert payload["type"] == ("document" if type_ == "upload" else type_)
        if type_ in ("text", "image"):
            assert payload["text"] == BODIES[type_]["text"]
        if "media" in payload:
            assert "base64" not in json.dumps(payload)
            assert payload["media"]["size"] > 0
            assert len(payload["media"]["sha256"]) == 64
    assert _ledger(stack, sent["document"]["messageId"])[0]["payload"]["media"]["filename"] == (
        "Faktur März 文件.pdf"
    )
    assert _ledger(stack, sent["upload"]["messageId"])[0]["payload"]["media"]["filename"] == (
        "Ünïcödé 🧾.pdf"
    )

    # Incoming (with media) and the history in both directions, from the node.
    api.ok(
        "POST",
        f"/api/v1/sessions/{session_id}/sandbox/incoming",
        json={"from": "+6281200000009", "type": "image", "media": {"base64": b64(png_bytes())}},
    )
    api.ok(
        "POST",
        f"/api/v1/sessions/{session_id}/sandbox/incoming",
        json={"from": "+6281200000009", "text": "balas 🙏"},
    )
    history = wait_for(
        lambda: (h := api.ok("GET", f"/api/v1/sessions/{session_id}/messages?limit=200"))
        and sum(1 for m in h if m["direction"] == "in") == 2
        and h,
        timeout_s=20,
        what="incoming messages in the history",
    )
    assert {m["direction"] for m in history} == {"in", "out"}
    incoming = [m for m in history if m["direction"] == "in"]
    assert incoming[1]["content"]["text"] == "balas 🙏"
    media_id = incoming[0]["content"]["media"]["id"]
    download = api.http.get(f"{stack.base_url}/api/v1/media/{media_id}", timeout=10)
    assert download.content == png_bytes()
    page = api.ok(
        "GET", f"/api/v1/sessions/{session_id}/messages?since={history[0]['cursor']}&limit=2"
    )
    assert [m["cursor"] for m in page] == [history[1]["cursor"], history[2]["cursor"]]

    check = api.ok("GET", f"/api/v1/sessions/{session_id}/contacts/check", params={"phone": TO})
    assert check == {
        "phone": "6281200000001",
        "onWhatsApp": True,
        "jid": "6281200000001@s.whatsapp.net",
    }
    check = api.ok(
        "GET", f"/api/v1/sessions/{session_id}/contacts/check", params={"phone": "+1 555 000 0199"}
    )
    assert check["onWhatsApp"] is False


def test_concurrent_idempotent_sends_make_one_ledger_entry(gateway_stack):
    stack = gateway_stack
    key = stack.create_api_key("idem@example.com")
    api = Api(stack.base_url, key)
    session_id = _connected_session(api)
    body = {"sessionId": session_id, "to": TO, "text": "once only ✓"}
    barrier = threading.Barrier(20)

    def one(_: int) -> tuple[int, str]:
        barrier.wait()
        response = requests.post(
            f"{stack.base_url}/api/v1/messages",
            json=body,
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "same-key-1"},
            timeout=20,
        )
        return response.status_code, response.json()["data"]["messageId"]

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert {status for status, _ in results} == {202}
    ids = {message_id for _, message_id in results}
    assert len(ids) == 1
    message_id = ids.pop()
    wait_for(
        lambda: api.ok("GET", f"/api/v1/messages/{message_id}")["status"] == "read",
        timeout_s=30,
        what="read",
    )
    assert len(_ledger(stack, message_id)) == 1
    status, error = api.call(
        "POST",
        "/api/v1/messages",
        json={**body, "text": "other"},
        headers={"Idempotency-Key": "same-key-1"},
    )
    assert (status, error["error"]["code"]) == (422, "idempotency_key_mismatch")


def test_history_works_on_the_embedded_default(embedded_stack):
    stack = embedded_stack
    api = Api(stack.base_url, stack.create_api_key("embedded@example.com"))
    session_id = _connected_session(api)
    sent = api.ok("POST", "/api/v1/messages", json={"sessionId": session_id, "to": TO, "text": "x"})
    history = wait_for(
        lambda: api.ok("GET", f"/api/v1/sessions/{session_id}/messages"),
        timeout_s=20,
        what="history over the filesystem broker and file result backend",
    )
    assert history[0]["id"] == sent["messageId"]
