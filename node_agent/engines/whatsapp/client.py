"""Build the neonize client of a session run, with every event handler registered.

Handlers must be registered before connect(). neonize calls them on Go's thread, where they only
hand the event to `on_go_event` (events.py puts it on the dispatcher's queue).

neonize is imported inside these functions, never at module level: importing it starts a Go
runtime, which must happen only in the node process, on its first WhatsApp session (ffi.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node_agent.config import NodeConfig
from node_agent.engines.whatsapp.device_store import DeviceStore
from node_agent.engines.whatsapp.ffi import load_neonize
from node_agent.engines.whatsapp.run import SessionRun

DEVICE_NAME = "WhatsApp Gateway"  # shown on the phone under "Linked devices"

# neonize event class name → our kind; events.py handles each kind in `_ev_<kind>`.
EVENTS = {
    "PairStatusEv": "pair_status",
    "ConnectedEv": "connected",
    "DisconnectedEv": "disconnected",
    "KeepAliveTimeoutEv": "keepalive_timeout",
    "KeepAliveRestoredEv": "keepalive_restored",
    "LoggedOutEv": "logged_out",
    "StreamReplacedEv": "stream_replaced",
    "TemporaryBanEv": "temporary_ban",
    "ConnectFailureEv": "connect_failure",
    "ClientOutdatedEv": "client_outdated",
    "StreamErrorEv": "stream_error",
    "MessageEv": "message",
    "ReceiptEv": "receipt",
    "UndecryptableMessageEv": "undecryptable",
    # Group changes (group_events.py): created or joined, a GroupInfo notification.
    "JoinedGroupEv": "group",
    "GroupInfoEv": "group",
    # A group's or a person's picture set or removed (group_events.py, contact_events.py).
    "PictureEv": "picture",
    # A contact online, offline, typing or recording (presence.py).
    "PresenceEv": "presence",
    "ChatPresenceEv": "presence",
    # A ringing call (calls.py).
    "CallOfferEv": "call",
}

# on_go_event(run, kind, data): called on Go's thread; must neither block nor raise.
GoEventSink = Callable[[SessionRun, str, Any], None]


def new_client(
    config: NodeConfig, device_store: DeviceStore, run: SessionRun, on_go_event: GoEventSink
) -> Any:
    """Return a new neonize client for `run`, its handlers registered, not yet connected.

    With a PostgreSQL device store, a run resuming credentials opens exactly their device JID
    (the caller checked the store holds it); one linking afresh asks for a new device.
    """
    neonize = load_neonize(config.neonize_log_level)
    from neonize import events as nz_events  # lazy: see the module docstring
    from neonize.proto.Neonize_pb2 import JID
    from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps

    kwargs: dict[str, Any] = {
        # A fresh uuid per run: two clients with one uuid share Go state (neonize 0.5.2).
        "uuid": f"{run.session_id}.{run.gen}",
        "props": DeviceProps(os=DEVICE_NAME, platformType=DeviceProps.CHROME),
    }
    if device_store.shared:
        device_jid = (run.credentials or {}).get("jid")
        if device_jid:
            user, _, server = device_jid.partition("@")
            user, _, device = user.partition(":")
            kwargs["jid"] = JID(
                User=user, Device=int(device or 0), Server=server, RawAgent=0, Integrator=0
            )
        else:
            kwargs["new_device"] = True
    else:
        device_store.prepare()
    client = neonize.NewClient(device_store.name(run.session_id), **kwargs)
    # Its finalizer would call Stop() from whatever thread runs the GC, beside other FFI
    # calls; we stop every client ourselves, under the gate (measured on neonize 0.5.2).
    client._stop_finalizer.detach()

    def on_qr(_client: Any, data: bytes) -> None:
        on_go_event(run, "qr", data)

    client.event.qr(on_qr)
    for class_name, kind in EVENTS.items():
        client.event(getattr(nz_events, class_name))(_handler(run, kind, on_go_event))
    return client


def _handler(run: SessionRun, kind: str, on_go_event: GoEventSink) -> Callable[[Any, Any], None]:
    def handle(_client: Any, event: Any) -> None:
        on_go_event(run, kind, event)

    return handle


def proxy_settings(config: NodeConfig) -> Any:
    """Return neonize's ProxySettings for WHATSAPP_PROXY_URL, or None without a proxy."""
    if not config.whatsapp_proxy_url:
        return None
    from neonize._binder import ProxySettings  # lazy: see the module docstring

    return ProxySettings(proxy_address=config.whatsapp_proxy_url)
