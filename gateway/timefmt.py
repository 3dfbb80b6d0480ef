"""How the API writes a moment: ISO 8601 in UTC with a `Z` (`2026-12-05T00:00:00Z`)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """Return an aware `moment` as ISO 8601 in UTC, ending in `Z` rather than `+00:00`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
