"""The OpenAPI schema as generated: valid, without warnings, and truthful about envelopes, errors
and credentials on every operation (tests/e2e/test_schema.py runs schemathesis against it)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

ENVELOPE = {"success", "data"}
ERROR = {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """The schema `manage.py spectacular --validate --fail-on-warn` writes (it fails on any
    warning or error)."""
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format=openapi-json", f"--file={path}"
    )
    return json.loads(path.read_text())


def _operations(schema, prefix=""):
    for path, operations in schema["paths"].items():
        if path.startswith(prefix):
            for method, operation in operations.items():
                yield f"{method.upper()} {path}", operation


def test_every_tenant_operation_has_the_envelope_a_401_and_credentials(schema):
    operations = dict(_operations(schema, "/api/v1/"))
    assert len(operations) > 25
    for name, operation in operations.items():
        responses = operation["responses"]
        successes = [s for s in responses if s.startswith("2")]
        assert successes, name
        for status in successes:
            content = responses[status]["content"]
            if "application/json" in content:
                body = content["application/json"]["schema"]
                assert set(body["required"]) == ENVELOPE, (name, status)
                assert body["properties"]["success"]["enum"] == [True], (name, status)
            else:
                # A file: as stored (octet-stream), or a profile picture (WhatsApp's are JPEGs).
                assert list(content) in (["application/octet-stream"], ["image/jpeg"]), name
        assert "`unauthorized`" in responses["401"]["description"], name
        assert {"ApiKey": []} in operation["security"], name
        assert {"ApiKeyHeader": []} in operation["security"], name


def test_every_error_answer_is_the_error_envelope_with_its_codes(schema):
    for name, operation in _operations(schema):
        for status, answer in operation["responses"].items():
            if status[0] in "45":
                assert answer["content"]["application/json"]["schema"] == ERROR, (name, status)
                assert "`" in answer["description"], (name, status)  # names its codes
        responses = operation["responses"]
        if "{" in name:
            assert "404" in responses, name
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(responses), name


def test_node_routes_take_the_node_token_and_operator_routes_a_key(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["nodeToken"] == {**schemes["nodeToken"], "type": "http", "scheme": "bearer"}
    assert schemes["ApiKeyHeader"]["name"] == "X-API-Key"
    for name, operation in _operations(schema):
        if operation["tags"] == ["node reports"]:
            assert operation["security"] == [{"nodeToken": []}], name
            assert "`unauthorized`" in operation["responses"]["401"]["description"], name
        else:
            assert {"ApiKey": []} in operation["security"], name
    node = dict(_operations(schema))
    assert node["POST /api/admin/workers/register"]["tags"] == ["node reports"]
    assert (
        "`node_forbidden`"
        in node["POST /api/webhooks/usage-report"]["responses"]["403"]["description"]
    )
    assert "`forbidden`" in node["GET /api/admin/workers"]["responses"]["403"]["description"]


def test_views_name_their_own_codes(schema):
    operations = dict(_operations(schema))
    send = operations["POST /api/v1/messages"]["responses"]
    assert "`session_not_connected`" in send["409"]["description"]
    assert "`idempotency_key_mismatch`" in send["422"]["description"]
    assert "`validation_error`" in send["400"]["description"]
    assert "`invalid_recipient`" in send["400"]["description"]
    history = operations["GET /api/v1/sessions/{session_id}/messages"]["responses"]
    assert "`node_timeout`" in history["504"]["description"]
    connect = operations["POST /api/v1/sessions/{session_id}/connect"]["responses"]
    assert "`no_worker_available`" in connect["503"]["description"]


def test_request_fields_refuse_what_the_serializers_refuse(schema):
    schemas = schema["components"]["schemas"]
    create = schemas["SessionCreateInputRequest"]["properties"]["name"]
    assert create["pattern"] == r"^[^\u0000]*[^\u0000\s][^\u0000]*$"  # trimmed, no NUL
    worker = schemas["CreateInputRequest"]["properties"]
    assert worker["engines"]["minItems"] == 1
    assert worker["workerId"]["not"] == {"enum": ["rebalance", "register"]}
    heartbeat = schemas["HeartbeatInputRequest"]["properties"]
    assert heartbeat["instanceId"]["pattern"] == "^(?:[0-9a-f]{32})?$"  # "" is taken too
    assert schemas["SessionOutput"]["properties"]["lastSeenAt"]["nullable"] is True
    usage = {p["name"]: p for p in schema["paths"]["/api/v1/usage"]["get"]["parameters"]}
    assert usage["to"]["allowEmptyValue"] is True


def test_every_event_type_is_documented_with_an_example(schema):
    from sessions_app.webhooks.models import EVENT_TYPES

    documented = schema["x-webhooks"]
    assert set(documented) == set(EVENT_TYPES)
    for type_, operations in documented.items():
        body = operations["post"]["requestBody"]["content"]["application/json"]
        assert body["example"]["type"] == type_
        assert body["example"]["data"], type_
