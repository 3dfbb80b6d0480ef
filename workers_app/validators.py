"""The node id rule, for every way a node enters the registry through the API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

from gateway.fields import StrictCharField

# The rule lives in the node protocol (which imports no Django), so a node refuses at start an id
# the backend would refuse at registration.
from node_agent.protocol import RESERVED_WORKER_IDS, WORKER_ID_PATTERN, worker_id_error


def validate_worker_id(value: str) -> None:
    """Raise ValidationError unless `value` is a valid node id (see node_agent.config)."""
    problem = worker_id_error(value)
    if problem:
        raise ValidationError(f"Invalid node id: {problem}.", code="invalid")


@extend_schema_field(
    {
        "type": "string",
        "pattern": f"^{WORKER_ID_PATTERN.pattern}$",
        "not": {"enum": sorted(RESERVED_WORKER_IDS)},
    }
)
class WorkerIdField(StrictCharField):
    """A node id in a request body, checked by `validate_worker_id`. Not trimmed: "node-x\\n"
    is refused, not stored as another id than the node uses."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("validators", [validate_worker_id])
        super().__init__(**kwargs)
