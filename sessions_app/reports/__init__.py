"""Node reports: the internal API nodes report to (session and message statuses, incoming
messages, received files) and fetch files to send from. Authenticated by the node token.

The shapes are `node_agent.protocol`'s; each view validates one and calls the service of its
domain (`sessions.services.session_status_apply`, `messages.statuses.message_status_apply`, …).
The paths keep their historical `/api/webhooks/…` names (the wire protocol is stable); in code
these are *reports*, and *webhooks* are users' endpoints.
"""
