"""Webhooks end to end: a sandbox contact's message reaches a loopback receiver, signed, once."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.stack import Api, wait_for
from tests.sessions_app.webhooks.receiver import Receiver

pytestmark = pytest.mark.e2e


def test_incoming_sandbox_message_reaches_the_webhook_once_signed(gateway_stack):
    stack = gateway_stack
    api = Api(stack.base_url, stack.create_api_key("hooks@example.com"))
    receiver = Receiver().start()
    try:
        session_id = api.ok("POST", "/api/v1/sessions", json={"name": "H", "engine": "sandbox"})[
            "sessionId"
        ]
        webhook = api.ok(
            "POST",
            "/api/v1/webhooks",
            json={"url": receiver.url, "eventTypes": ["message.received"]},
        )
        api.ok("POST", f"/api/v1/sessions/{session_id}/connect", json={})
        wait_for(
            lambda: api.ok("GET", f"/api/v1/sessions/{session_id}/status")["status"]
            == "QR_REQUIRED",
            timeout_s=20,
            what="QR_REQUIRED",
        )
        api.ok("POST", f"/api/v1/sessions/{session_id}/sandbox/scan", json={})
        wait_for(
            lambda: api.ok("GET", f"/api/v1/sessions/{session_id}/status")["status"] == "CONNECTED",
            timeout_s=20,
            what="CONNECTED",
        )

        api.ok(
            "POST",
            f"/api/v1/sessions/{session_id}/sandbox/incoming",
            json={"from": "+62 812-0000-0009", "text": "Halo webhook"},
        )
        wait_for(lambda: receiver.requests, timeout_s=30, what="the webhook delivery")
        time.sleep(2.0)  # longer than the sweep interval and the first retry step
        assert len(receiver.requests) == 1

        request = receiver.requests[0]
        payload = Webhook(webhook["secret"]).verify(request.body, request.headers)
        assert payload["type"] == "message.received"
        assert payload["sessionId"] == session_id
        assert payload["data"]["message"]["text"] == "Halo webhook"
        assert request.headers["webhook-id"] == payload["id"]
        assert webhook["secret"] not in request.body.decode()
        assert json.loads(request.body)["data"]["message"]["from"].startswith("62812")

        deliveries = api.ok("GET", f"/api/v1/webhooks/{webhook['id']}/deliveries")
        assert [(d["status"], d["eventId"]) for d in deliveries] == [("succeeded", payload["id"])]
        assert [a["statusCode"] for a in deliveries[0]["attempts"]] == [200]
    finally:
        receiver.stop()
