"""Incoming calls WhatsApp reports, as the engine's `call` events (node_agent/chat_calls.py
decides what to do with them). Duck-typed over neonize's protobufs.

whatsmeow's events.CallOffer (types/events/call.go) is a ringing call: BasicCallMeta {From,
Timestamp, CallCreator, CallID}; neonize 0.5.2 hands it over as CallOfferEv (Neonize.proto
CallOffer, code 36) with the snake-case fields `basicCallMeta` {from, timestamp, callCreator,
callID}. It says nothing of audio or video (that is in the offer's raw node, which neonize does
not pass on), so `video` is None. The call is declined with neonize's `reject_call(from, id)`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from node_agent.engines.whatsapp import mapping

EVENT_CLASSES = ("CallOfferEv",)


def call_of(event: Any) -> dict[str, Any]:
    """Return the `call` event (emit()'s keywords) of a neonize CallOffer event; its id hashes
    WhatsApp's call id, so a repeated offer is the same call."""
    meta = event.basicCallMeta
    caller = getattr(meta, "from")  # a Python keyword
    return {
        "event_id": hashlib.sha256(f"call:{meta.callID}".encode()).hexdigest()[:32],
        "from": mapping.jid_str(caller),
        "callId": meta.callID,
        "at": mapping.iso_from_unix(meta.timestamp) if meta.timestamp else None,
        "video": None,
    }
