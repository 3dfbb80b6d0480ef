"""The node protocol: every task the backend sends a node and every report a node sends back.

Both sides build and read their messages through this module, and it is the only part of the node
agent the backend imports besides the broker settings (`node_agent.broker`). It uses the standard
library only. JSON on the wire is camelCase; here fields are snake_case and
`to_wire` / `from_wire` convert (`session_id` ↔ `sessionId`).

- Tasks, backend → node: Celery tasks named `node_agent.tasks.<name>` on the node's queue
  `node.<workerId>`, with keyword arguments only (`NodeTask` subclasses below). Every task is
  idempotent: tasks are acknowledged late, so any may run twice.
- Reports, node → backend: HTTP POSTs with `Authorization: Bearer <node token>` to the paths below,
  each report body a `NodeReport` subclass; plus registration, heartbeat and the media routes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

# Re-exported: `protocol.X` names every part of the protocol.
from node_agent.wire import (  # noqa: F401
    INCOMING_CONTENT_KEYS,
    MEDIA_DESCRIPTOR_KEYS,
    MEDIA_TYPES,
    MESSAGE_TYPES,
    NODE_QUEUE_PREFIX,
    RESERVED_WORKER_IDS,
    USER_SERVER,
    WORKER_ID_PATTERN,
    Wire,
    camel,
    digits,
    heartbeat_path,
    media_download_path,
    node_queue,
    user_jid,
    worker_id_error,
)

# --- Tasks: backend → node ---------------------------------------------------------------------

TASK_PREFIX = "node_agent.tasks."


@dataclasses.dataclass(frozen=True)
class NodeTask(Wire):
    """A Celery task for a node. `name` is its task name; `rpc` tasks return a JSON answer that
    the caller waits for (acknowledged early, results stored); the others return nothing."""

    name: ClassVar[str] = ""
    rpc: ClassVar[bool] = False


@dataclasses.dataclass(frozen=True)
class SessionStart(NodeTask):
    """Start a session, or repeat its status if it already runs there.

    `method` is `qr` or `pairing_code` (then `phone_number`, E.164 digits, is needed); `engine`
    is `whatsapp` or `sandbox`; `user_id` is the owner's id; `calls` the session's call policy
    {reject: bool, message: str} (node_agent/chat_calls.py), None to keep the node's.
    """

    name: ClassVar[str] = TASK_PREFIX + "session_start"
    session_id: str
    user_id: int | str
    engine: str
    method: str = "qr"
    phone_number: str | None = None
    calls: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class SessionStop(NodeTask):
    """Stop a session, keeping its login. `moved`: it runs on another node now; report nothing."""

    name: ClassVar[str] = TASK_PREFIX + "session_stop"
    session_id: str
    moved: bool = False


@dataclasses.dataclass(frozen=True)
class SessionLogout(NodeTask):
    """Unlink the session's device and delete its login."""

    name: ClassVar[str] = TASK_PREFIX + "session_logout"
    session_id: str


@dataclasses.dataclass(frozen=True)
class SessionDelete(NodeTask):
    """Log out if linked, and forget the session and its history (a node that never had it
    does nothing)."""

    name: ClassVar[str] = TASK_PREFIX + "session_delete"
    session_id: str


@dataclasses.dataclass(frozen=True)
class MessageSend(NodeTask):
    """Send one message exactly once. `payload`: `to` (E.164 digits or a JID's user part),
    `chatId` (JID), `type` (MESSAGE_TYPES), and by type `text`, `media` (MEDIA_DESCRIPTOR_KEYS;
    the node fetches the bytes from the backend), `location`, `contact` {name, vcard},
    `reaction` {messageId, emoji}; on any type `replyTo` (a WhatsApp message id) and `mentions`
    (E.164 digits). `rate_per_s` and `burst` pace the session's lane (the plan's messages per
    second, 0: none; None keeps the lane's); `pacing` {minDelayMs, maxDelayMs, typing} is the
    session's human-like pacing (pacing.py; None: none). A node older than a field ignores it."""

    name: ClassVar[str] = TASK_PREFIX + "message_send"
    message_id: str
    session_id: str
    payload: dict[str, Any]
    rate_per_s: float | None = None
    burst: int = 1
    pacing: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class MessagesList(NodeTask):
    """RPC: up to `limit` (1..200) history items of a session (`HISTORY_ITEM_KEYS`) with cursors
    above `since` and, when `before` > 0, below it; oldest first, or newest first with
    `newest_first`. `direction` ("in"/"out", "" both), `query` (a case-insensitive part of
    the text or caption, chat or sender) and `chat` (one chat's JID) narrow it down. A node
    older than a field ignores it."""

    name: ClassVar[str] = TASK_PREFIX + "messages_list"
    rpc: ClassVar[bool] = True
    session_id: str
    since: int = 0
    limit: int = 50
    before: int = 0
    newest_first: bool = False
    direction: str = ""
    query: str = ""
    chat: str = ""


# One history item: `id` (gateway id out, WhatsApp id in), `waMessageId`, `direction` (in|out),
# `chatId`, `from`, `type`, `status`, `error` ({code, message} or null), `content` (text, media
# descriptor, location, ...), `createdAt` (ISO 8601 UTC), `cursor` (pass as `since`).
HISTORY_ITEM_KEYS = ("id", "waMessageId", "direction", "chatId", "from", "type", "status")
HISTORY_ITEM_KEYS += ("error", "content", "createdAt", "cursor")


@dataclasses.dataclass(frozen=True)
class CheckNumber(NodeTask):
    """RPC: is `phone` (E.164 digits) on WhatsApp? `{"jid": <jid|null>}`, `{"error": NOT_CONNECTED}`
    or `{"error": RATE_LIMITED, "retryAfterS": n}` (spaced at `rate_per_minute`; 0: not)."""

    RATE_LIMITED: ClassVar[str] = "rate_limited"
    name: ClassVar[str] = TASK_PREFIX + "check_number"
    rpc: ClassVar[bool] = True
    session_id: str
    phone: str
    rate_per_minute: int = 0  # the plan's number checks a minute (node_agent/checks.py)


NOT_CONNECTED = "session_not_connected"


@dataclasses.dataclass(frozen=True)
class SessionCall(NodeTask):
    """RPC: one operation `op` (the subclass's OPS) of a session, with its `params` (the node's
    module of each call lists them). `{"result": ...}` or `{"error": code, "message": str}`."""

    OPS: ClassVar[tuple[str, ...]] = ()
    rpc: ClassVar[bool] = True
    session_id: str
    op: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class GroupCall(SessionCall):
    """A group operation (node_agent/group_calls.py)."""

    OPS: ClassVar[tuple[str, ...]] = ("list", "info", "create", "participants", "invite_link")
    OPS += ("invite_info", "join", "update", "leave")
    name: ClassVar[str] = TASK_PREFIX + "group_call"


@dataclasses.dataclass(frozen=True)
class SandboxAction(NodeTask):
    """Simulate the phone of a sandbox session: `scan` {phoneNumber?, qrString?}, `incoming`
    {from, type, text?, media?, location?, contact?}, `logout` or `disconnect` (no params)."""

    name: ClassVar[str] = TASK_PREFIX + "sandbox_action"
    session_id: str
    action: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ContactCall(SessionCall):
    """A contact or profile operation (node_agent/contact_calls.py)."""

    OPS: ClassVar[tuple[str, ...]] = ("list", "profile", "picture", "block", "unblock")
    OPS += ("blocklist", "me", "me_update", "lid")
    name: ClassVar[str] = TASK_PREFIX + "contact_call"


@dataclasses.dataclass(frozen=True)
class ChatCall(SessionCall):
    """A chat or presence operation (node_agent/chat_calls.py)."""

    OPS: ClassVar[tuple[str, ...]] = ("list", "read", "update", "delete", "presence")
    OPS += ("chat_presence", "subscribe", "calls")
    name: ClassVar[str] = TASK_PREFIX + "chat_call"


NODE_TASKS: tuple[type[NodeTask], ...] = (SessionStart, SessionStop, SessionLogout, SessionDelete)
NODE_TASKS += (MessageSend, MessagesList, CheckNumber, SandboxAction, GroupCall, ContactCall)
NODE_TASKS += (ChatCall,)

# --- Reports: node → backend -------------------------------------------------------------------

SESSION_STATUS_PATH = "/api/webhooks/session-status"
MESSAGE_STATUS_PATH = "/api/webhooks/message-status"
MESSAGE_RECEIVED_PATH = "/api/webhooks/message-received"
MEDIA_UPLOAD_PATH = "/api/webhooks/media"
REPORTS_PATH = "/api/webhooks/reports"
REGISTER_PATH = "/api/admin/workers/register"
USAGE_REPORT_PATH = "/api/webhooks/usage-report"
GROUP_EVENT_PATH = "/api/webhooks/group-event"
SESSION_EVENT_PATH = "/api/webhooks/session-event"


@dataclasses.dataclass(frozen=True)
class NodeReport(Wire):
    """A report a node POSTs to `PATH`. Reports are at-least-once (the node's outbox keeps each
    until a 2xx) and applied idempotently; `timestamp` (ISO 8601 UTC, microseconds, `Z`) comes
    from one node-wide clock that never repeats or goes back. `worker_id` names the reporting
    node: a report from a node a session has moved away from changes nothing."""

    DROP_NONE: ClassVar[bool] = True
    PATH: ClassVar[str] = ""


@dataclasses.dataclass(frozen=True)
class SessionStatusReport(NodeReport):
    """A session's status changed (or its QR rotated). `status` is a session status (upper
    case); QR reports carry `qr_string`, `qr_expires_at` and `qr_index` (1-based); PAIRING
    carries `pairing_code`; CONNECTED `phone_number` (E.164 digits) and `jid`; others `reason`."""

    PATH: ClassVar[str] = SESSION_STATUS_PATH
    session_id: str
    status: str
    worker_id: str = ""
    timestamp: str = ""
    qr_string: str | None = None
    qr_expires_at: str | None = None
    qr_index: int | None = None
    pairing_code: str | None = None
    phone_number: str | None = None
    jid: str | None = None
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class MessageStatusReport(NodeReport):
    """An outbound message moved on: `status` is sent, delivered, read or failed (then
    `error` = {code, message}); `wa_message_id` is WhatsApp's id once sent."""

    PATH: ClassVar[str] = MESSAGE_STATUS_PATH
    session_id: str
    message_id: str
    status: str
    worker_id: str = ""
    timestamp: str = ""
    wa_message_id: str | None = None
    error: dict[str, str] | None = None


@dataclasses.dataclass(frozen=True)
class MessageReceivedReport(NodeReport):
    """A session received a message. `message`: `id` (WhatsApp's), `from` (phone digits),
    `chatId`, `type`, `timestamp`, `fromMe` (false) and the INCOMING_CONTENT_KEYS it has (`media`:
    a MEDIA_DESCRIPTOR_KEYS descriptor of the file the node uploaded)."""

    PATH: ClassVar[str] = MESSAGE_RECEIVED_PATH
    session_id: str
    message: dict[str, Any]
    worker_id: str = ""


@dataclasses.dataclass(frozen=True)
class UsageReport(NodeReport):
    """A node's traffic in one UTC hour [`period_start`, `period_end`) (ISO 8601, see usage.py):
    `sessions` [{sessionId, sent, received}]. A repeat replaces, never adds; it goes unbatched."""

    PATH: ClassVar[str] = USAGE_REPORT_PATH
    worker_id: str
    period_start: str
    period_end: str
    sessions: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class GroupEventReport(NodeReport):
    """A group the session is in changed (GROUP_EVENTS): `event_id` (unique per change: the
    backend emits one webhook event per id), `group` (its JID), `by` (who did it, a JID, when
    WhatsApp says), `data`: joined {info: GroupInfo | null}; left {}; participants {action: add
    | remove | promote | demote, participants: [JID]}; updated {changes: {subject?,
    description?, announce?, locked?, joinApproval?, picture?: bool (set or removed)}}."""

    PATH: ClassVar[str] = GROUP_EVENT_PATH
    session_id: str
    event: str
    event_id: str
    group: str
    data: dict[str, Any]
    by: str | None = None
    worker_id: str = ""
    timestamp: str = ""


GROUP_EVENTS = ("joined", "left", "participants", "updated")


@dataclasses.dataclass(frozen=True)
class SessionEventReport(NodeReport):
    """An event of the session for its owner's webhooks, of a type in SESSION_EVENT_TYPES:
    `event_id` (unique per event: the backend emits one webhook event per id), `data` (the
    event's keys; the backend adds `sessionId`). contact.updated: {contact: JID as WhatsApp
    named it, phone: digits | null, lid: LID JID | null, changes: {pushName?: str, picture?:
    bool (set or removed)}}."""

    PATH: ClassVar[str] = SESSION_EVENT_PATH
    session_id: str
    type: str
    event_id: str
    data: dict[str, Any]
    worker_id: str = ""
    timestamp: str = ""


SESSION_EVENT_TYPES = ("contact.updated", "presence.update", "message.reaction")
SESSION_EVENT_TYPES += ("message.edited", "message.revoked", "message.read", "poll.vote")
SESSION_EVENT_TYPES += ("call.received", "call.rejected", "chat.updated")

# The reports a batch may carry (a received file's upload is multipart, so it goes alone).
BATCHED_PATHS = (SESSION_STATUS_PATH, MESSAGE_STATUS_PATH, MESSAGE_RECEIVED_PATH)
BATCHED_PATHS += (GROUP_EVENT_PATH, SESSION_EVENT_PATH)
REPORT_BATCH_MAX = 200


@dataclasses.dataclass(frozen=True)
class ReportBatch(NodeReport):
    """Queued reports sent at once: `reports` [{path, body}] (BATCHED_PATHS, at most
    REPORT_BATCH_MAX) in the order they were queued. The backend applies them in that order,
    each on its own, and answers `results` [{status, code}], one per report: a 2xx was
    applied (or no longer matters), a 4xx refused for good (the node drops it). On a failure
    of the whole request (no answer, 5xx) the node sends the batch again (idempotent)."""

    PATH: ClassVar[str] = REPORTS_PATH
    reports: list[dict[str, Any]]
    worker_id: str = ""


RESULTS = "results"


@dataclasses.dataclass(frozen=True)
class Registration(NodeReport):
    """A node's registration (at start, and whenever a heartbeat is refused).

    `endpoint` is its queue; `session_store` the id of its shared session store ("" = its
    own); `running_sessions` the sessions it runs. The answer's `stopSessions` lists those no
    longer assigned to it, which it stops without a report.
    """

    PATH: ClassVar[str] = REGISTER_PATH
    worker_id: str
    instance_id: str
    endpoint: str
    max_sessions: int
    engines: list[str]
    version: str = ""
    health_url: str = ""
    session_store: str = ""
    running_sessions: list[str] | None = None


@dataclasses.dataclass(frozen=True)
class Heartbeat(NodeReport):
    """A node's heartbeat (PUT to `heartbeat_path(workerId)`), answered as a registration:
    `status` ONLINE or DRAINING (take no new sessions), `metrics` {sessionCount, cpuUsage (%),
    memoryUsage (%), activeConnections}, `unreachableEngines` (their network did not answer),
    `errors` (for the System log) at most HEARTBEAT_ERRORS_MAX {logger, message (template),
    error (type), where, at (ISO 8601)}."""

    status: str
    instance_id: str
    metrics: dict[str, float]
    running_sessions: list[str] | None = None
    unreachable_engines: list[str] | None = None
    errors: list[dict[str, str]] | None = None


HEARTBEAT_ERRORS_MAX = 50
STOP_SESSIONS = "stopSessions"
