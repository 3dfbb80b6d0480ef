"""The OpenAPI schema against the real stack: schemathesis (every check, a fixed seed, a few
examples per operation) on gunicorn, PostgreSQL, Redis, the backend worker and a node, with an
operator's ENTERPRISE key and the node token. It must report no failure."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.stack import BIN, NODE_TOKEN

pytestmark = pytest.mark.e2e

SEED = 1
MAX_EXAMPLES = 3

# What no JSON Schema can say, so a schema-valid request may still be refused (400/422); only
# positive_data_acceptance is left out, and only there:
# - phone numbers are checked by libphonenumber per country (sessions_app/recipients.py);
# - a webhook or media URL must resolve to a public address (gateway/netsafety.py), and a media
#   URL must download;
# - a session's name needs a character that draws (sessions_app/messages/text.py);
# - pacing: minDelayMs <= maxDelayMs, newNumberDays needs a cap; usage: at most 366 days;
#   a usage report: one UTC hour, each session once; a group's or profile's picture must be a
#   JPEG; a contact in a path is a phone number or a person's JID.
STATE_OR_SEMANTICS = [
    "POST /api/v1/messages",
    "POST /api/send",
    "POST /api/v1/sessions",
    "POST /api/v1/sessions/{session_id}/connect",
    "POST /api/v1/sessions/{session_id}/sandbox/scan",
    "POST /api/v1/sessions/{session_id}/sandbox/incoming",
    "GET /api/v1/sessions/{session_id}/contacts/check",
    "POST /api/v1/webhooks",
    "PATCH /api/v1/webhooks/{webhook_id}",
    "PUT /api/v1/sessions/{session_id}/pacing",
    "GET /api/v1/usage",
    "POST /api/webhooks/usage-report",
    "POST /api/v1/sessions/{session_id}/groups",
    "POST /api/v1/sessions/{session_id}/groups/{group_id}/participants",
    "PUT /api/v1/sessions/{session_id}/groups/{group_id}/picture",
    "GET /api/v1/sessions/{session_id}/contacts/{contact}",
    "GET /api/v1/sessions/{session_id}/contacts/{contact}/picture",
    "POST /api/v1/sessions/{session_id}/contacts/{contact}/block",
    "POST /api/v1/sessions/{session_id}/contacts/{contact}/unblock",
    "GET /api/v1/sessions/{session_id}/lids/{contact}",
    "PUT /api/v1/sessions/{session_id}/profile/picture",
    # An event's `data` has the shape of its `event` or `type` (protocol.GroupEventReport's).
    "POST /api/webhooks/group-event",
    "POST /api/webhooks/session-event",
    "POST /api/v1/sessions/{session_id}/sandbox/presence",
    "POST /api/v1/sessions/{session_id}/sandbox/message-action",
    "POST /api/v1/sessions/{session_id}/sandbox/call",
    "PATCH /api/v1/sessions/{session_id}/chats/{chat}",
    "DELETE /api/v1/sessions/{session_id}/chats/{chat}",
    "POST /api/v1/sessions/{session_id}/chats/{chat}/read",
    "POST /api/v1/sessions/{session_id}/chats/{chat}/presence",
    "POST /api/v1/sessions/{session_id}/contacts/{contact}/presence",
    "PUT /api/v1/sessions/{session_id}/calls",
]

# The routes that wait on the session's node (an RPC over the broker).
_GROUP = "/api/v1/sessions/{session_id}/groups"
NODE_RPC = [
    "GET /api/v1/sessions/{session_id}/messages",
    "GET /api/v1/sessions/{session_id}/contacts/check",
    f"GET {_GROUP}",
    f"POST {_GROUP}",
    f"POST {_GROUP}/join",
    f"GET {_GROUP}/invites/{{code}}",
    f"GET {_GROUP}/{{group_id}}",
    f"PATCH {_GROUP}/{{group_id}}",
    f"PUT {_GROUP}/{{group_id}}/picture",
    f"DELETE {_GROUP}/{{group_id}}/picture",
    f"POST {_GROUP}/{{group_id}}/participants",
    f"GET {_GROUP}/{{group_id}}/invite",
    f"POST {_GROUP}/{{group_id}}/invite/revoke",
    f"POST {_GROUP}/{{group_id}}/leave",
    "GET /api/v1/sessions/{session_id}/contacts",
    "GET /api/v1/sessions/{session_id}/contacts/{contact}",
    "GET /api/v1/sessions/{session_id}/contacts/{contact}/picture",
    "POST /api/v1/sessions/{session_id}/contacts/{contact}/block",
    "POST /api/v1/sessions/{session_id}/contacts/{contact}/unblock",
    "GET /api/v1/sessions/{session_id}/blocklist",
    "GET /api/v1/sessions/{session_id}/lids/{contact}",
    "GET /api/v1/sessions/{session_id}/profile",
    "PATCH /api/v1/sessions/{session_id}/profile",
    "GET /api/v1/sessions/{session_id}/profile/picture",
    "PUT /api/v1/sessions/{session_id}/profile/picture",
    "DELETE /api/v1/sessions/{session_id}/profile/picture",
    "GET /api/v1/sessions/{session_id}/chats",
    "PATCH /api/v1/sessions/{session_id}/chats/{chat}",
    "DELETE /api/v1/sessions/{session_id}/chats/{chat}",
    "POST /api/v1/sessions/{session_id}/chats/{chat}/read",
    "POST /api/v1/sessions/{session_id}/chats/{chat}/presence",
    "POST /api/v1/sessions/{session_id}/presence",
    "POST /api/v1/sessions/{session_id}/contacts/{contact}/presence",
    "PUT /api/v1/sessions/{session_id}/calls",
]

CONFIG = """
seed = {seed}
[checks]
enabled = true
[generation]
max-examples = {max_examples}
database = "none"
# Only the credentials below: a generated X-API-Key or cookie would count as a wrong key.
with-security-parameters = false
[auth.openapi.ApiKey]
bearer = "{key}"
[auth.openapi.nodeToken]
bearer = "{node_token}"

[[operations]]
include-name = {state_or_semantics}
checks.positive_data_acceptance.enabled = false

# A multipart form carries text only: a number negated into `mimetype` arrives as a valid string.
[[operations]]
include-name = ["POST /api/webhooks/media"]
checks.negative_data_rejection.enabled = false

# 504 `node_timeout` is documented for what asks a session's node: the run registers nodes of its
# own (no process behind them), and a session it connects may be placed on one.
[[operations]]
include-name = {node_rpc}
checks.not_a_server_error.expected-statuses = ["2XX", "3XX", "4XX", 504]

# 503 `no_worker_available` is documented: no node can reach WhatsApp from a test machine.
[[operations]]
include-name = ["POST /api/v1/sessions/{{session_id}}/connect"]
checks.not_a_server_error.expected-statuses = ["2XX", "3XX", "4XX", 503]
"""


def _operator_key(stack) -> str:
    from accounts.models import User

    key = stack.create_api_key("schemathesis@example.com")  # ENTERPRISE: no plan limits
    User.objects.filter(email="schemathesis@example.com").update(is_staff=True)
    return key


def test_schemathesis_finds_nothing_against_the_real_stack(gateway_stack, tmp_path):
    stack = gateway_stack
    # The checks send wrong keys on purpose: the per-address lockout would answer 429 to all.
    stack.env["API_AUTH_FAILURES_PER_MINUTE"] = "1000000"
    # A node that does not answer (a history of a session still linking) is 504 `node_timeout`
    # within schemathesis' 10 s request timeout.
    stack.env["NODE_RPC_TIMEOUT_S"] = "3"
    stack.stop("web")
    stack.start_web()
    stack.wait_ready()
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.format(
            seed=SEED,
            max_examples=MAX_EXAMPLES,
            key=_operator_key(stack),
            node_token=NODE_TOKEN,
            state_or_semantics=json.dumps(STATE_OR_SEMANTICS),
            node_rpc=json.dumps(NODE_RPC),
        )
    )
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            str(BIN / "st"),
            "--config-file",
            str(config),
            "run",
            f"{stack.base_url}/api/schema/",
            "--workers",
            "1",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    summary = json.loads(report.read_text()) if report.exists() else {}
    assert result.returncode == 0, result.stdout[-20_000:]
    assert not summary["failures"], summary["failures"]
    assert summary["test_cases"]["generated"] > 500, summary["test_cases"]
