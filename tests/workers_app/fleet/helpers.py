"""Shared by the fleet tests: the shared session store's id, and what sits in a node's queue."""

import base64
import json

STORE = "pg-main"


def popped_with_headers(broker, queue):
    """Pop every message of `queue`: [(headers, kwargs, embed)], oldest first."""
    found = []
    while raw := broker.redis.rpop(queue):
        message = json.loads(raw)
        _args, kwargs, embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"], kwargs, embed))
    return found


def popped(broker, queue):
    """Pop every message of `queue`: [(task name, kwargs, embed)], oldest first."""
    return [
        (headers["task"], kwargs, embed)
        for headers, kwargs, embed in popped_with_headers(broker, queue)
    ]
