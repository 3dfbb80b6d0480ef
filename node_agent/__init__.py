"""The node agent: one process holding WhatsApp sessions for the gateway (imports no Django)."""

import uuid

__version__ = "0.1.0"

# This process's random id, new on every start. It goes with each registration and heartbeat
# and in GET /health, so the backend can tell two processes started with one WORKER_ID apart.
INSTANCE_ID = uuid.uuid4().hex
