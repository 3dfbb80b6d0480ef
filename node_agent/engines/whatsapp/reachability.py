"""Can this node reach WhatsApp? Asked by every heartbeat, answered without blocking.

The answer is the last probe's (a TCP connection to WhatsApp or the proxy, ffi.probe_whatsapp);
a probe older than WHATSAPP_REACHABILITY_S starts a new one in the background (0: never probe,
always "reachable"). Until the first probe ends the answer is "reachable", so nothing is held
back on a guess. The backend uses it to preselect the sandbox for new sessions when no node
reaches WhatsApp.
"""

from __future__ import annotations

import logging
import threading
import time

from node_agent.config import NodeConfig
from node_agent.engines.whatsapp.ffi import probe_whatsapp

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0


class Reachability:
    def __init__(self, config: NodeConfig) -> None:
        self._timeout_s = config.whatsapp_probe_timeout_s or DEFAULT_TIMEOUT_S
        self._proxy_url = config.whatsapp_proxy_url
        self._reprobe_s = config.whatsapp_reachability_s
        self._lock = threading.Lock()
        self._reachable = True
        self._probed_at: float | None = None
        self._probing = False

    def reachable(self) -> bool:
        """Return the last probe's answer (True before the first), probing again if stale."""
        if self._reprobe_s <= 0:
            return True
        with self._lock:
            stale = self._probed_at is None or time.monotonic() - self._probed_at > self._reprobe_s
            if stale and not self._probing:
                self._probing = True
                threading.Thread(target=self._probe, name="whatsapp-probe", daemon=True).start()
            return self._reachable

    def _probe(self) -> None:
        problem = probe_whatsapp(self._timeout_s, self._proxy_url)
        with self._lock:
            if (problem is None) != self._reachable:
                log.info(
                    "WhatsApp %s", "reachable" if problem is None else f"unreachable: {problem}"
                )
            self._reachable = problem is None
            self._probed_at = time.monotonic()
            self._probing = False
