"""The node agent: one process holding WhatsApp sessions for the gateway (imports no Django)."""

__version__ = "0.1.0"
