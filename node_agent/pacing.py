"""Human-like pacing of a session's sends: a random delay before each message, and "typing…"
shown in the chat before a text for a time that grows with its length.

The backend puts a session's pacing on each `message_send` task (protocol.MessageSend.pacing,
set by the user through `PUT /api/v1/sessions/{id}/pacing`, which checks the bounds); the
session's send lane applies it (lanes.py), as time the lane rests, never a sender thread.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Typing speed on phones: 36 words a minute on average, a word being 5 characters (Palin et al.,
# "How do People Type on Mobile Devices?", MobileHCI 2019), so about 3 characters a second.
TYPING_CHARS_PER_S = 3.0
TYPING_MIN_S = 1.0  # a short "ok" still shows "typing…" long enough to be seen
TYPING_MAX_S = 8.0  # long texts are pasted, not typed: no one types for a minute


@dataclass(frozen=True)
class Pacing:
    """A session's pacing: before each send a delay drawn uniformly from
    [`min_delay_ms`, `max_delay_ms`] (milliseconds), and with `typing` "typing…" before a text."""

    min_delay_ms: int = 0
    max_delay_ms: int = 0
    typing: bool = False

    @classmethod
    def from_wire(cls, body: Mapping[str, Any] | None) -> Pacing | None:
        """Read MessageSend's `pacing` {minDelayMs, maxDelayMs, typing}; None when absent or
        when it asks for nothing. Values the backend should never send are made harmless: a
        negative or non-numeric delay is 0, a maximum below the minimum is the minimum."""
        if not isinstance(body, Mapping):
            return None
        low = _ms(body.get("minDelayMs"))
        pacing = cls(low, max(low, _ms(body.get("maxDelayMs"))), body.get("typing") is True)
        return pacing if pacing.max_delay_ms or pacing.typing else None

    def delay_s(self, rng: random.Random) -> float:
        """Return the delay before the next send, in seconds, drawn uniformly within the bounds."""
        if not self.max_delay_ms:
            return 0.0
        return rng.uniform(self.min_delay_ms, self.max_delay_ms) / 1000

    def typing_s(self, payload: Mapping[str, Any]) -> float:
        """Return how long "typing…" shows before this message, in seconds: 0 unless `typing`
        is on and it is a text; else its length at TYPING_CHARS_PER_S, within
        TYPING_MIN_S..TYPING_MAX_S."""
        text = payload.get("text")
        if not self.typing or payload.get("type", "text") != "text" or not isinstance(text, str):
            return 0.0
        return min(TYPING_MAX_S, max(TYPING_MIN_S, len(text) / TYPING_CHARS_PER_S))


def _ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))
