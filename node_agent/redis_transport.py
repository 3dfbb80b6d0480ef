"""kombu's Redis transport, keeping one Redis client per channel instead of one per call.

kombu 5.5 builds a new `redis.Redis` for every acknowledgement and every message taken
(`QoS.ack`/`append` → `pipe_or_acquire` → `Channel._create_client`): a tenth of the node's
Python time per task, spent building an object around the same connection pool. A `redis.Redis`
is safe to share between threads (each command borrows a pooled connection; every pipeline is a
new object), so the channel keeps one. The client for the event loop (`asynchronous`) is kombu's
own, cached by kombu already. broker_settings names this transport for `redis://` URLs, so the
backend's publishes (one client built per publish before) and the node's consumer share it.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._shared_client
        # A channel whose pool was dropped (on close) gets a fresh client on the new pool.
        if client is None or client.connection_pool is not self.pool:
            client = self._shared_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
