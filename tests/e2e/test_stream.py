"""The live event stream on real processes (gunicorn, the backend worker, a node, the stream's own
uvicorn): events arrive once, in order, with the webhook's body; a client that drops and resumes
with its last event id misses nothing; a session-bound key's stream holds no other session's."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests

from tests.e2e.stack import Api, wait_for

pytestmark = pytest.mark.e2e
PATH = "/api/v1/events/stream"


class StreamClient:
    """Reads one SSE stream on a thread: `events` [(id, type, payload)] as they come."""

    def __init__(self, url: str, key: str, *, last_id: str = "", **params: str) -> None:
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        self.response = requests.get(
            url + PATH, headers=headers, params=params, stream=True, timeout=(5, 30)
        )
        assert self.response.status_code == 200, self.response.text
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        frame: dict[str, str] = {}
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line:
                    name, _, value = line.partition(":")
                    frame[name] = value.removeprefix(" ")
                elif "data" in frame:
                    self.events.append((frame["id"], frame["event"], json.loads(frame["data"])))
                    frame = {}
                else:
                    frame = {}  # a ping (a comment line)
        except (requests.RequestException, AttributeError):
            return  # closed by close()

    def texts(self) -> list[str]:
        received = [p for _, t, p in self.events if t == "message.received"]
        return [p["data"]["message"].get("text", "") for p in received]

    def close(self) -> None:
        self.response.close()


def _incoming(api: Api, session_id: str, text: str) -> None:
    api.ok(
        "POST",
        f"/api/v1/sessions/{session_id}/sandbox/incoming",
        json={"from": "+6281200000400", "text": text},
    )


def test_events_stream_resume_and_scope(gateway_stack):
    stack = gateway_stack
    stream_url = stack.start_stream()
    key = stack.create_api_key("stream@example.com")
    api = Api(stack.base_url, key)
    first, second = api.link_sandbox("S1"), api.link_sandbox("S2")
    bound_key = stack.create_api_key_for_session("stream@example.com", second)

    everything = StreamClient(stream_url, key, types="message.received")
    bound = StreamClient(stream_url, bound_key)
    dropping = StreamClient(stream_url, key, types="message.received", sessionId=first)
    for n in range(3):
        _incoming(api, first, f"one-{n}")
    _incoming(api, second, "two-0")
    wait_for(lambda: len(dropping.texts()) == 3, timeout_s=30, what="three events")
    last_id = dropping.events[-1][0]
    dropping.close()  # offline while more happens
    for n in range(3, 6):
        _incoming(api, first, f"one-{n}")
    wait_for(lambda: len(everything.texts()) == 7, timeout_s=30, what="seven events")
    resumed = StreamClient(
        stream_url, key, last_id=last_id, types="message.received", sessionId=first
    )
    _incoming(api, first, "one-6")
    wait_for(lambda: len(resumed.texts()) == 4, timeout_s=30, what="the missed and the new")

    assert resumed.texts() == ["one-3", "one-4", "one-5", "one-6"]  # none missed, none twice
    assert sorted(everything.texts()) == sorted([f"one-{n}" for n in range(7)] + ["two-0"])
    assert len({event_id for event_id, _, _ in everything.events}) == len(everything.events)
    # The body is the webhook's: id, type, timestamp, sessionId, data.
    event_id, type_, body = everything.events[0]
    assert (body["id"], body["type"]) == (event_id, type_)
    assert {"timestamp", "sessionId", "data"} <= set(body)
    # The session-bound key sees its session only (every type: its status events too).
    wait_for(lambda: "two-0" in bound.texts(), timeout_s=30, what="the bound key's event")
    assert {body["sessionId"] for _, _, body in bound.events} == {second}
    for client in (everything, bound, resumed):
        client.close()


def test_refusals_before_the_stream_begins(gateway_stack):
    stack = gateway_stack
    stream_url = stack.start_stream()
    key = stack.create_api_key("stream-refusals@example.com")
    other = Api(stack.base_url, stack.create_api_key("stream-other@example.com"))
    others = other.link_sandbox("O")

    def refusal(headers: dict[str, str], **params: str) -> tuple[int, str]:
        response = requests.get(stream_url + PATH, headers=headers, params=params, timeout=10)
        body = response.json()
        assert body["success"] is False
        return response.status_code, body["error"]["code"]

    auth = {"Authorization": f"Bearer {key}"}
    assert refusal({}) == (401, "unauthorized")
    assert refusal({"Authorization": "Bearer wag_not-a-key"}) == (401, "unauthorized")
    assert refusal(auth, types="message.exploded") == (400, "validation_error")
    assert refusal(auth, sessionId=others) == (404, "session_not_found")
    assert refusal({**auth, "Last-Event-ID": "evt_nobody"}) == (400, "unknown_last_event_id")
    # A dashboard login counts from the dashboard's own origin only; another gets no CORS.
    elsewhere = {"Origin": "https://evil.example", "Cookie": "sessionid=anything"}
    assert refusal(elsewhere) == (401, "unauthorized")
    answer = requests.get(stream_url + PATH, headers=elsewhere, timeout=10)
    assert "Access-Control-Allow-Origin" not in answer.headers
    # Other methods and paths answer the envelope too.
    posted = requests.post(stream_url + PATH, headers=auth, timeout=10)
    assert (posted.status_code, posted.json()["error"]["code"]) == (405, "method_not_allowed")
    lost = requests.get(stream_url + "/api/v1/nothing", timeout=10)
    assert (lost.status_code, lost.json()["error"]["code"]) == (404, "not_found")
