"""Body caps before reading (gateway.bodylimits): by Content-Length, and for chunked bodies once
the cap is crossed; checked on a real gunicorn where reading is what must not happen."""

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.stack import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
SMALL_CAP = 65536  # API_MAX_BODY_BYTES of the gunicorn below


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """A gunicorn serving the gateway on a free port; nothing it is asked here reaches the DB."""
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {
        "PATH": str(Path(sys.executable).parent),
        "ENV_FILE": "",
        "DATA_DIR": str(tmp / "data"),
        "SECRET_KEY": "x" * 50,
        "API_MAX_BODY_BYTES": str(SMALL_CAP),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "gateway.settings"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "gateway.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "2",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _status(port, b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n") > 0,
                 timeout_s=30, what="gunicorn")  # fmt: skip
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _status(port, raw, *, then=b"", timeout_s=5.0):
    """Send `raw` (and `then`), return the answer's status code; fail after `timeout_s`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(raw)
        if then:
            sock.sendall(then)
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1])


def _multipart_head(path, length, *, extra=b""):
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=b0undary\r\n"
        f"Content-Length: {length}\r\n".encode()
        + extra
        + b'\r\n--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/api/v1/messages", b""),
        ("/api/v1/messages", b"Authorization: Bearer wag_not_a_key\r\n"),
        ("/api/send", b""),
        ("/api/webhooks/media", b"Authorization: Bearer nope\r\n"),
    ],
)
def test_a_300_mb_multipart_upload_is_refused_by_its_content_length(gunicorn, path, extra):
    started = time.monotonic()
    status = _status(gunicorn, _multipart_head(path, 300 * MB, extra=extra), then=b"x" * MB)
    assert status == 413
    assert time.monotonic() - started < 5  # answered at once, not after reading 300 MB


def test_a_huge_anonymous_login_post_is_refused_before_the_csrf_check_reads_it(gunicorn):
    cookie = b"Cookie: csrftoken=" + b"a" * 32 + b"\r\n"
    status = _status(gunicorn, _multipart_head("/login", 280 * MB, extra=cookie), then=b"x" * MB)
    assert status == 413


def _chunked(path, body, content_type="application/json"):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 8192]), body[i : i + 8192])
        for i in range(0, len(body), 8192)
    )
    return head + chunks + b"0\r\n\r\n"


@pytest.mark.parametrize("path", ["/api/v1/messages", "/login"])
def test_a_chunked_body_is_cut_once_it_crosses_the_cap(gunicorn, path):
    assert _status(gunicorn, _chunked(path, b"[" * (SMALL_CAP + 1))) == 413


def test_a_chunked_body_under_the_cap_reaches_the_view(api, user, db):
    body = json.dumps({"sessionId": "ses_nothere", "to": "+6281200000001", "text": "hi"})
    response = api.post(
        "/api/v1/messages",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body.encode()), "wsgi.input_terminated": True},
    )
    # Django alone reads no body without a length: this would be "sessionId is required".
    assert response.status_code == 404, response.json()
    assert response.json()["error"]["code"] == "session_not_found"


def test_a_100_mb_json_body_is_413_payload_too_large(api, db):
    response = api.post(
        "/api/v1/messages", b"{}", content_type="application/json", CONTENT_LENGTH=str(100 * MB)
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_an_html_route_answers_a_plain_413(client):
    response = client.post(
        "/login", b"a=1", content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(100 * MB),
    )  # fmt: skip
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
