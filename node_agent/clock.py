"""Timestamps of the node: ISO 8601 UTC text with microseconds and a `Z`, as on the wire.

One format for every timestamp the node writes (its SQLite rows, reports, QR expiry times,
the sandbox network), so they sort as text in time order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # 2026-11-29T07:00:00.123456Z


def format_ts(moment: datetime) -> str:
    """Return an aware datetime as a node timestamp (converted to UTC)."""
    # isoformat, not strftime(TS_FORMAT): the same text, several times faster (every report).
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_ts(value: str) -> datetime:
    """Parse a node timestamp to an aware UTC datetime. Raises ValueError on another shape."""
    return datetime.strptime(value, TS_FORMAT).replace(tzinfo=UTC)


def utc_now_iso() -> str:
    """Return the current UTC time as a node timestamp."""
    return format_ts(datetime.now(UTC))


def utc_in_iso(delay_s: float) -> str:
    """Return the UTC time `delay_s` seconds from now as a node timestamp (an expiry time)."""
    return format_ts(datetime.now(UTC) + timedelta(seconds=delay_s))
