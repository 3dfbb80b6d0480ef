"""Reading media from where a caller put it: a URL to download, base64 text, an upload.

Each reader fills a `Spool` (a temporary file, hashed and counted against the type's cap as it
fills), so no file is ever held whole in memory and none grows past its cap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

import urllib3
from django.conf import settings

from gateway.netsafety import check_url
from sessions_app.errors import MediaDownloadFailed, MediaDownloadTimeout, MediaInvalid
from sessions_app.media.content import KB, MB, SNIFF_BYTES, media_limit, too_large

CHUNK_BYTES = 64 * KB
MAX_REDIRECTS = 3
_BASE64_PREFIX = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,]*)?;base64,", re.I)


@dataclass(frozen=True)
class MediaSource:
    """What the caller gave: exactly one of `url`, `base64` or `upload` (a Django UploadedFile)."""

    url: str | None = None
    base64: str | None = None
    upload: Any = None
    mimetype: str | None = None
    filename: str | None = None


class Spool:
    """Collect bytes into a temporary file while hashing and counting them against a cap."""

    def __init__(self, limit: int, type_: str) -> None:
        self.limit = limit
        self.type_ = type_
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=2 * MB)
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = b""

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.file.close()
            raise too_large(self.type_, self.limit)
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
        self.sha.update(chunk)
        self.file.write(chunk)


def read_base64(value: str, *, type_: str) -> tuple[Spool, str | None]:
    """Decode base64 (with or without a `data:<mime>;base64,` prefix); return spool and mime.

    Raises MediaTooLarge before decoding when the text is too long, MediaInvalid when it is
    not base64.
    """
    declared = None
    match = _BASE64_PREFIX.match(value)
    if match:
        declared = match.group("mime")
        value = value[match.end() :]
    value = "".join(value.split())
    limit = media_limit(type_)
    if len(value) * 3 // 4 > limit + 2:
        raise too_large(type_, limit)
    try:
        data = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaInvalid(
            "media.base64 is not valid base64.", fields={"media": ["Not base64."]}
        ) from exc
    if not data:
        raise MediaInvalid("media.base64 is empty.", fields={"media": ["Empty."]})
    spool = Spool(limit, type_)
    spool.write(data)
    return spool, declared


def read_upload(upload: Any, *, type_: str) -> Spool:
    """Copy an uploaded file (multipart) into a spool. Raises MediaTooLarge or MediaInvalid."""
    limit = media_limit(type_)
    if upload.size is not None and upload.size > limit:
        raise too_large(type_, limit)
    spool = Spool(limit, type_)
    for chunk in upload.chunks(CHUNK_BYTES):
        spool.write(chunk)
    if spool.size == 0:
        raise MediaInvalid("The uploaded file is empty.", fields={"file": ["Empty."]})
    return spool


def download(url: str, *, type_: str) -> tuple[Spool, str | None, str | None]:
    """Stream `url` into a spool; return (spool, Content-Type, file name from the URL).

    Every hop (redirects included, at most MAX_REDIRECTS) passes `check_url` and is reached at
    the address that check resolved, so DNS rebinding cannot slip through. The whole download
    must finish within MEDIA_DOWNLOAD_TIMEOUT_S seconds and the per-type cap. Raises UnsafeUrl
    (400), MediaDownloadFailed, MediaDownloadTimeout (422) or MediaTooLarge (413).
    """
    limit = media_limit(type_)
    deadline = time.monotonic() + settings.MEDIA_DOWNLOAD_TIMEOUT_S
    for _hop in range(MAX_REDIRECTS + 1):
        checked = check_url(url)
        response = _open(checked, deadline)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise MediaDownloadFailed("The media URL redirected nowhere.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise MediaDownloadFailed(
                    f"The media URL answered HTTP {response.status}.",
                    fields={"media": [f"HTTP {response.status}"]},
                )
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise too_large(type_, limit)
            spool = Spool(limit, type_)
            # A server that drips a few bytes at a time satisfies every per-read timeout; the
            # watchdog cuts the connection at the deadline so the whole download is bounded.
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), response.shutdown)
            watchdog.daemon = True
            watchdog.start()
            try:
                for chunk in _chunks(response, deadline):
                    spool.write(chunk)
            finally:
                watchdog.cancel()
            if time.monotonic() > deadline:
                raise MediaDownloadTimeout()
            if spool.size == 0:
                raise MediaDownloadFailed("The media URL returned an empty file.")
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None
            return spool, response.headers.get("Content-Type"), name
        finally:
            response.release_conn()
    raise MediaDownloadFailed("The media URL redirected too many times.")


def _open(checked: Any, deadline: float) -> Any:
    address = checked.addresses[0]
    remaining = max(0.1, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=min(5.0, remaining), read=remaining)
    if checked.scheme == "https":
        pool: Any = urllib3.HTTPSConnectionPool(
            address,
            checked.port,
            server_hostname=checked.host,
            assert_hostname=checked.host,
            timeout=timeout,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, checked.port, timeout=timeout, retries=False)
    parts = urlsplit(checked.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = checked.host if ":" not in checked.host else f"[{checked.host}]"
    default_port = 443 if checked.scheme == "https" else 80
    if checked.port != default_port:
        host_header += f":{checked.port}"
    try:
        return pool.urlopen(
            "GET",
            target,
            headers={"Host": host_header, "User-Agent": "wa-gateway-media-fetch"},
            redirect=False,
            preload_content=False,
            decode_content=False,
        )
    except urllib3.exceptions.NewConnectionError as exc:
        # Checked first: urllib3 makes a refused connection a kind of connect timeout.
        raise MediaDownloadFailed("The media URL could not be reached.") from exc
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        raise MediaDownloadTimeout() from exc
    except urllib3.exceptions.HTTPError as exc:
        raise MediaDownloadFailed("The media URL could not be reached.") from exc


def _chunks(response: Any, deadline: float) -> Any:
    try:
        while True:
            if time.monotonic() > deadline:
                raise MediaDownloadTimeout()
            chunk = response.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        raise MediaDownloadTimeout() from exc
    except urllib3.exceptions.HTTPError as exc:
        raise MediaDownloadFailed("The media download broke off.") from exc
