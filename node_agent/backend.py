"""HTTP client for the backend's node endpoints (the paths of node_agent/protocol.py).

Every request carries `Authorization: Bearer <BACKEND_AUTH_TOKEN>` and a JSON body. The client
never logs the token. `requests.Session` is not documented as thread-safe, so each thread that
talks to the backend (outbox sender, heartbeat) builds its own client.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass
from typing import Any

import requests

from node_agent import protocol

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0

USER_AGENT = "wa-gateway-node-agent"
MEDIA_READ_TIMEOUT_S = 60.0


def _headers(token: str) -> dict[str, str]:
    """Return the headers of every request to the backend."""
    return {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}


def backoff_s(
    attempt: int, *, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S
) -> float:
    """Return a delay for retry number `attempt` (1-based): exponential, capped, full jitter.

    The delay is uniform in [cap/2 .. cap] of the exponential value, so retries never bunch at 0
    yet nodes restarted together spread out.
    """
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Response:
    """Outcome of one request: `status` is the HTTP code, or None when no answer came."""

    status: int | None
    error: str = ""
    data: dict[str, Any] | None = None  # the envelope's `data` of a 2xx JSON answer
    code: str = ""  # the envelope's error `code` of a failure answer ("" without one)

    @property
    def ok(self) -> bool:
        """Return True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Return True when a later try may succeed: no answer, 5xx, 408 or 429, and 401 or 403
        (the node's credential was refused, revoked or names another node: the reports are
        sound, and wait in the outbox until the node runs with a credential that works)."""
        return self.status is None or self.status >= 500 or self.status in (401, 403, 408, 429)

    def describe(self) -> str:
        """Return the outcome for a log line.

        `HTTP 400 validation_error: Invalid input. {"workerId": [...]}` for a refusal (4xx: the
        backend says why), `HTTP 503` for a server error (its body may be a proxy's HTML page),
        the network error's name when no answer came.
        """
        if self.status is None:
            return self.error
        if 400 <= self.status < 500 and self.error:
            return f"HTTP {self.status} {self.error}"
        return f"HTTP {self.status}"


def _envelope_part(answer: requests.Response, key: str) -> dict[str, Any] | None:
    """Return the dict under `key` (`data` or `error`) of a JSON envelope answer, else None."""
    try:
        body = answer.json()
    except ValueError:
        return None
    part = body.get(key) if isinstance(body, dict) else None
    return part if isinstance(part, dict) else None


def _envelope_error(answer: requests.Response) -> dict[str, Any] | None:
    """Return a failure answer's envelope `error` when it has a `code`, else None."""
    error = _envelope_part(answer, "error")
    return error if error and error.get("code") else None


def _error_text(answer: requests.Response) -> str:
    """Return a failure answer's `code: message {fields}` from its envelope, else its body's start.

    At most 300 characters.
    """
    error = _envelope_error(answer)
    if error is None:
        return answer.text[:300]
    text = f"{error['code']}: {error.get('message') or ''}".rstrip()
    if error.get("fields"):
        text += " " + json.dumps(error["fields"], ensure_ascii=False)
    return text[:300]


class BackendClient:
    """Send JSON to the backend at `base_url` with the worker's Bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._http = requests.Session()
        self._http.headers.update(_headers(token))

    def request(self, method: str, path: str, body: dict[str, Any]) -> Response:
        """Send `body` to `path`; return a Response and never raise on network errors."""
        try:
            answer = self._http.request(
                method,
                self._base_url + path,
                json=body,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except requests.exceptions.InvalidJSONError as exc:
            # The body cannot be encoded (NaN or infinity from an engine): no retry can change
            # that, so answer like a refusal and let the outbox drop it instead of jamming.
            return Response(status=400, error=f"unencodable report: {exc}")
        except requests.RequestException as exc:
            return Response(status=None, error=type(exc).__name__)
        if not answer.ok:
            error = _envelope_error(answer)
            return Response(
                status=answer.status_code,
                error=_error_text(answer),
                code=str(error["code"]) if error else "",
            )
        return Response(status=answer.status_code, data=_envelope_part(answer, "data"))

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()


class MediaUnavailable(Exception):
    """The backend does not have the file, or it differs from its descriptor (permanent)."""


def media_fetch(base_url: str, token: str, media: dict[str, Any]) -> bytes:
    """Download a file to send, described by `media` {id, size (bytes), sha256}.

    Reads at most `size` bytes and checks the SHA-256. Raises MediaUnavailable (404, size or
    hash mismatch) or requests.RequestException (network trouble: worth a retry).
    """
    size = int(media.get("size") or 0)
    with requests.get(
        base_url.rstrip("/") + protocol.media_download_path(str(media["id"])),
        headers=_headers(token),
        timeout=(CONNECT_TIMEOUT_S, MEDIA_READ_TIMEOUT_S),
        stream=True,
    ) as answer:
        if answer.status_code == 404:
            raise MediaUnavailable(f"media {media['id']} not found")
        answer.raise_for_status()
        data = bytearray()
        for chunk in answer.iter_content(64 * 1024):
            data += chunk
            if len(data) > size:
                raise MediaUnavailable(f"media {media['id']} is larger than {size} bytes")
    if len(data) != size or hashlib.sha256(data).hexdigest() != media.get("sha256"):
        raise MediaUnavailable(f"media {media['id']} does not match its descriptor")
    return bytes(data)


def media_upload(
    base_url: str, token: str, *, session_id: str, data: bytes, mimetype: str, filename: str
) -> dict[str, Any] | None:
    """Upload a received file to the backend's storage; return its descriptor or None.

    The descriptor is {id, mimetype, filename, size, sha256}; None when the upload failed
    (logged; the message is still reported, without a media id).
    """
    try:
        answer = requests.post(
            base_url.rstrip("/") + protocol.MEDIA_UPLOAD_PATH,
            headers=_headers(token),
            data={"sessionId": session_id, "mimetype": mimetype, "filename": filename},
            files={"file": (filename or "media", data, mimetype or "application/octet-stream")},
            timeout=(CONNECT_TIMEOUT_S, MEDIA_READ_TIMEOUT_S),
        )
    except requests.RequestException as exc:
        log.warning("media upload for %s failed: %s", session_id, type(exc).__name__)
        return None
    if answer.status_code != 201:
        log.warning("media upload for %s refused: HTTP %s", session_id, answer.status_code)
        return None
    return answer.json()["data"]
