"""The WhatsApp engine (neonize); importing this package does not import neonize."""

from __future__ import annotations

import importlib.util

from node_agent.engines.whatsapp.engine import WhatsAppEngine

__all__ = ["WhatsAppEngine", "neonize_installed"]


def neonize_installed() -> bool:
    """Return True if neonize can be imported here (checked without importing it)."""
    return importlib.util.find_spec("neonize") is not None
