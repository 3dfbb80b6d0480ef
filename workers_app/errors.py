"""Errors of the node registry, the node client and the fleet (codes are part of the public API)."""

from gateway.errors import Conflict, GatewayError, NotFound, ServiceUnavailable


class NoWorkerAvailable(ServiceUnavailable):
    code = "no_worker_available"
    message = "No node can take this session right now. Try again later."


class WorkerNotFound(NotFound):
    code = "worker_not_found"
    message = "Node not found."


class WorkerAlreadyExists(Conflict):
    code = "worker_already_exists"
    message = "A node with this id is already registered."


class WorkerIdInUse(Conflict):
    code = "worker_id_in_use"
    message = "Another running node already uses this WORKER_ID. Give each node its own WORKER_ID."


class NodeTimeout(GatewayError):
    code = "node_timeout"
    message = "The session's node did not answer in time; try again."
    http_status = 504


class NodeRequestFailed(GatewayError):
    code = "node_error"
    message = "The session's node could not answer the request."
    http_status = 502


class NodeForbidden(GatewayError):
    """403: a node's credential speaks for one node; it asked about another's node or session."""

    code = "node_forbidden"
    message = "This node's credential does not cover that node or session."
    http_status = 403
