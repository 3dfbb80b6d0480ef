"""Sessions (linked WhatsApp accounts) and their status: create, connect, stop, log out, delete,
what nodes report, what the backend decides itself (timeouts, moves), the sandbox phone."""
