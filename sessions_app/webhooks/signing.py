"""Secrets and signatures for webhook deliveries.

Signatures follow the Standard Webhooks specification (github.com/standard-webhooks/
standard-webhooks, spec/standard-webhooks.md): the `webhook-signature` header carries
space-separated `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` values, one
per valid secret, so a receiver keeps verifying while a secret is rotated. They are made with the
`standardwebhooks` package itself. The optional `X-Hub-Signature-256` header is Meta's Cloud API
form: `sha256=` + the hex HMAC-SHA256 of the raw body, keyed with the secret's full `whsec_…` text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
# The spec asks for secrets of 24 to 64 random bytes; 32 is SHA-256's block of security.
SECRET_BYTES = 32


def secret_generate() -> str:
    """Return a new signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_headers(
    *,
    msg_id: str,
    timestamp: datetime,
    body: str,
    secrets_: Iterable[str],
    hub_secret: str | None = None,
) -> dict[str, str]:
    """Return the signature headers of one request.

    `timestamp` is timezone-aware (sent as whole Unix seconds); `body` is the exact text sent;
    `secrets_` are the `whsec_…` secrets to sign with (current first). With `hub_secret`, adds
    `X-Hub-Signature-256`.
    """
    signatures = [Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets_]
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
    if hub_secret:
        digest = hmac.new(hub_secret.encode(), body.encode(), hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return headers
