"""Fair sharing on real processes: a tenant flooding one session neither delays another tenant's
message nor passes its own pace, quota or per-chat order."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.models import User
from billing.models import PlanOverride
from tests.e2e.stack import Api, wait_for
from tests.e2e.test_messaging import _connected_session

pytestmark = pytest.mark.e2e
FLOOD = 60
CHATS = 3


def _sent_order(stack, session_id: str) -> list[str]:
    with sqlite3.connect(stack.env["SANDBOX_NETWORK_PATH"]) as conn:
        rows = conn.execute(
            "SELECT message_id FROM ledger WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
    return [row[0] for row in rows]


def test_a_flood_neither_delays_another_tenant_nor_passes_its_pace_quota_or_order(gateway_stack):
    stack = gateway_stack
    tenant_a = Api(stack.base_url, stack.create_api_key("flood@example.com", plan="BASIC"))
    tenant_b = Api(stack.base_url, stack.create_api_key("quiet@example.com", plan="BASIC"))
    # BASIC paces sends (1/s, bursts of 5); the overrides leave room for the test's own polling.
    PlanOverride.objects.create(
        user=User.objects.get(email="flood@example.com"),
        messages_per_day=FLOOD,
        api_requests_per_minute=10_000,
    )
    PlanOverride.objects.create(
        user=User.objects.get(email="quiet@example.com"), api_requests_per_minute=10_000
    )
    flood_session = _connected_session(tenant_a)
    quiet_session = _connected_session(tenant_b)

    def send(chat: int, n: int) -> tuple[int, dict]:
        body = {"sessionId": flood_session, "to": f"+1555000{chat:04d}", "text": f"a{n}"}
        return tenant_a.call("POST", "/api/v1/messages", json=body)

    def flood_chat(chat: int) -> list[str]:
        # One client per chat sends in turn, so each chat's accepted order is well defined.
        answers = [send(chat, n) for n in range(FLOOD // CHATS)]
        assert {status for status, _ in answers} == {202}, answers[-1]
        return [body["data"]["messageId"] for _, body in answers]

    started = time.monotonic()
    with ThreadPoolExecutor(CHATS) as pool:
        accepted = list(pool.map(flood_chat, range(CHATS)))
    status, refused = send(0, FLOOD)
    assert (status, refused["error"]["code"]) == (429, "quota_exceeded")

    # B's one message goes out while A's backlog waits at A's pace (BASIC: 1/s, bursts of 5).
    quiet = tenant_b.ok(
        "POST",
        "/api/v1/messages",
        json={"sessionId": quiet_session, "to": "+15550002222", "text": "b"},
    )
    wait_for(
        lambda: tenant_b.ok("GET", f"/api/v1/messages/{quiet['messageId']}")["status"]
        in ("sent", "delivered", "read"),
        timeout_s=3,
        what="tenant B's message sent past tenant A's backlog",
    )
    sent_by_a = len(_sent_order(stack, flood_session))
    paced = 5 + (time.monotonic() - started) * 1.0 + 1  # a burst of 5, then 1/s
    assert sent_by_a <= paced, (sent_by_a, paced)
    assert sent_by_a < FLOOD

    wait_for(lambda: len(_sent_order(stack, flood_session)) >= 12, timeout_s=20, what="pace")
    sent = _sent_order(stack, flood_session)
    for chat_ids in accepted:
        in_chat = [m for m in sent if m in set(chat_ids)]
        assert in_chat == chat_ids[: len(in_chat)]  # each chat in its accepted order

    # An operator's plan change applies to the next request: no restart, no cache to wait out.
    PlanOverride.objects.filter(user__email="flood@example.com").update(messages_per_day=FLOOD + 1)
    status, answer = send(0, FLOOD + 1)
    assert status == 202, answer
