"""What a session's `status_reason` means, in words a dashboard user understands."""

# The reason of a session on its way to another node (workers_app/fleet/moves.py).
NODE_MOVED = "node_moved"
NODE_SHUTDOWN = "node_shutdown"

REASON_TEXT = {
    "qr_timeout": "The QR codes expired before a phone scanned one. Connect again for new ones.",
    "whatsapp_unreachable": "The node cannot reach WhatsApp's servers; it keeps retrying by "
    "itself. Check the node's network, or press Connect to retry now.",
    "whatsapp_unavailable": "WhatsApp is temporarily unavailable; the node keeps retrying.",
    "whatsapp_server_error": "WhatsApp answered with a server error; the node keeps retrying.",
    "connect_failure": "WhatsApp refused the connection; the node keeps retrying.",
    "engine_unavailable": "No engine for this session on its node.",
    "node_draining": "The node is about to restart; the session resumes after it.",
    NODE_SHUTDOWN: "The node was stopped; the session resumes when it is back.",
    "stream_replaced": "This WhatsApp account was opened by another gateway or client.",
    "temporary_ban": "WhatsApp temporarily banned this account.",
    "client_outdated": "WhatsApp rejected this client version; the operator must upgrade it.",
    "logged_out_from_phone": "The device was removed on the phone (Linked devices).",
    "logged_out_by_user": "You logged this session out. Connect to link a phone again.",
    "disconnected_by_user": "You disconnected this session. Connect resumes it without a scan.",
    "main_device_gone": "The phone's WhatsApp account is gone or was reinstalled.",
    "device_removed": "The linked device no longer exists; link the phone again.",
    "pairing_code_failed": "WhatsApp refused the pairing code request; try a QR code.",
    "pairing_failed": "Pairing failed; connect again.",
    "connection_lost": "The connection dropped; reconnecting.",
    "start_timeout": "The node did not start the session in time. Connect again.",
    "node_lost": "The node running this session stopped answering. Connect again: the session "
    "is placed on a node that is up (a new scan is needed if its login was on the lost node).",
    NODE_MOVED: "The session is moving to another node; it reconnects there by itself, without "
    "a new scan.",
    "node_removed": "The operator removed the node running this session. Connect again: the "
    "session is placed on a node that is up (a new scan is needed if its login was on that node).",
}


def reason_text(reason: str) -> str:
    """Return the explanation of a status reason, or "" when there is none."""
    return REASON_TEXT.get(reason, "")
