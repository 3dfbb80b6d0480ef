"""One webhook POST to a checked URL: pinned to the checked address, never redirected, bounded.

The connection goes to the address `gateway.netsafety.check_url` resolved, not to a fresh DNS
answer (DNS rebinding cannot slip through), and TLS is verified against the URL's host name.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from gateway.netsafety import CheckedUrl

_SNIPPET_READ_BYTES = 4096


@dataclass(frozen=True)
class HttpResult:
    """What a receiver answered: status code, the start of the body, `Retry-After` in seconds."""

    status: int
    snippet: str
    retry_after_s: float | None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to an address already checked, never to a fresh DNS answer."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As _PinnedHTTPConnection, with TLS verified against the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def http_post(
    *, checked: CheckedUrl, body: bytes, headers: dict[str, str], timeout_s: float
) -> HttpResult:
    """POST `body` to the checked URL's first reachable address; never follow a redirect.

    `timeout_s` bounds connecting, each read, and the whole exchange. Raises OSError (including
    socket.timeout and ssl.SSLError) or http.client.HTTPException.
    """
    deadline = time.monotonic() + timeout_s
    parts = urlsplit(checked.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = (
        _PinnedHTTPSConnection if checked.scheme == "https" else _PinnedHTTPConnection
    )
    last_error: OSError | None = None
    for address in checked.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection = connection_class(
            checked.host, checked.port, address=address, timeout=remaining
        )
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            snippet = _read_snippet(response, connection, deadline)
            return HttpResult(
                status=response.status,
                snippet=snippet,
                retry_after_s=_retry_after_s(response.getheader("Retry-After")),
            )
        except ConnectionRefusedError as exc:
            last_error = exc  # try the host's next address
        finally:
            connection.close()
    raise last_error or TimeoutError("timed out")


def _read_snippet(response: http.client.HTTPResponse, connection: object, deadline: float) -> str:
    chunks: list[bytes] = []
    size = 0
    while size < _SNIPPET_READ_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(remaining)
        try:
            chunk = response.read1(_SNIPPET_READ_BYTES - size)
        except (OSError, http.client.HTTPException):
            break  # the status line and headers already arrived; the body is only for the log
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    limit = settings.WEBHOOK_RESPONSE_SNIPPET_CHARS
    return b"".join(chunks).decode("utf-8", errors="replace")[:limit]


def _retry_after_s(value: str | None) -> float | None:
    """Parse `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())
