"""The node id rule, for every way a node enters the registry through the API."""

from __future__ import annotations

from django.core.exceptions import ValidationError

# The rule lives in the node protocol (which imports no Django), so a node refuses at start an id
# the backend would refuse at registration.
from node_agent.protocol import worker_id_error


def validate_worker_id(value: str) -> None:
    """Raise ValidationError unless `value` is a valid node id (see node_agent.config)."""
    problem = worker_id_error(value)
    if problem:
        raise ValidationError(f"Invalid node id: {problem}.", code="invalid")
