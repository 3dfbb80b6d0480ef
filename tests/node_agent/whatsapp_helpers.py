"""Feed real neonize events into a client the way the Go callback does (neonize 0.5.2)."""

from __future__ import annotations

import ctypes

from tests.node_agent.node_helpers import wait_until

PHONE = "6281200000100"
PEER = "6281200000200"


def feed(client, event):
    """Push a neonize protobuf event through the client's own event entry point."""
    from neonize.events import EVENT_TO_INT

    raw = event.SerializePartialToString()
    buf = ctypes.create_string_buffer(raw, len(raw))
    client.event.execute(0, ctypes.addressof(buf), len(raw), EVENT_TO_INT[type(event)])


def feed_qr(client, code):
    """Push a QR code through the client's QR trampoline."""
    buf = ctypes.create_string_buffer(code.encode())
    client._NewClient__onQr(0, ctypes.addressof(buf))


def jid(user, server="s.whatsapp.net", device=0):
    from neonize.proto.Neonize_pb2 import JID

    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def settle(runtime):
    """Wait until the engine's dispatcher handled everything fed so far."""
    assert runtime.engines["whatsapp"].wait_idle()


def names(backend, session_id):
    return [status for status, _ in backend.statuses(session_id)]


def wait_status(backend, session_id, status, timeout_s=10.0):
    """Wait for a status report; return its body."""
    return wait_until(
        lambda: [b for s, b in backend.statuses(session_id) if s == status],
        timeout_s=timeout_s,
        message=status,
    )[-1]


def connect_session(runtime, backend, session_id="w1", phone=PHONE):
    """Start a session (no connect()) and feed pairing + connection; return its client."""
    from neonize.events import ConnectedEv, PairStatusEv
    from neonize.proto.Neonize_pb2 import Device

    runtime.session_start(session_id, "u1", "whatsapp")
    client = runtime.engines["whatsapp"].client_of(session_id)
    feed_qr(client, "2@ref,noise=,ident=,adv=")
    feed(client, PairStatusEv(ID=jid(phone, device=7), Status=PairStatusEv.SUCCESS))
    feed(
        client,
        Device(JID=jid(phone, device=7), LID=jid("99887766", "lid"), PushName="Shop"),
    )
    feed(client, ConnectedEv(status=True))
    wait_status(backend, session_id, "CONNECTED")
    return client


def closed_proxy():
    """Return a SOCKS5 proxy URL on a loopback port nobody listens on.

    Connects through it fail at once with "connection refused": offline like our machines, but
    without any DNS query leaving the machine.
    """
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"socks5://127.0.0.1:{port}"
