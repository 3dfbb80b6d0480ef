"""The statuses nodes report for sent messages: sent, delivered, read, failed.

A status only moves forward (`read` is never replaced by `sent`), so repeats and reports that
arrive out of order change nothing. A node reports three statuses per message, so they are
applied in bulk: a batch of reports reads its messages in one query and writes them back in
one, whatever the number of reports (`message_statuses_apply`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import UsageRecord
from billing.services import usage_record_add
from gateway.metrics import MESSAGES, SEND_LATENCY
from sessions_app.errors import MessageNotFound
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import node_serves
from sessions_app.webhooks.events import message_status_emit

M = OutboundMessage.Status

# A status can only move forward: each status lists the ones it may replace.
_FROM = {
    M.SENT: {M.QUEUED},
    M.DELIVERED: {M.QUEUED, M.SENT},
    M.READ: {M.QUEUED, M.SENT, M.DELIVERED},
    M.FAILED: {M.QUEUED},
}
_AT = {M.SENT: "sent_at", M.DELIVERED: "delivered_at", M.READ: "read_at", M.FAILED: "failed_at"}
_RANK = {M.QUEUED: 0, M.SENT: 1, M.DELIVERED: 2, M.READ: 3}
_FIELDS = ["status", "wa_message_id", *_AT.values(), "error_code", "error_message", "updated_at"]


@dataclass(frozen=True)
class StatusReport:
    """One node report: `message_id` of `session_id` reached `status` at `timestamp`."""

    session_id: str
    message_id: str
    status: str
    timestamp: datetime
    wa_message_id: str = ""
    error_code: str = ""
    error_message: str = ""
    worker_id: str = ""  # the node the report names (its `workerId`; "" when it names none)


def _advance(message: OutboundMessage, report: StatusReport) -> bool:
    """Move `message` (in memory) to the report's status; False when it may not move."""
    if message.status not in _FROM[report.status]:
        return False
    message.status = report.status
    message.wa_message_id = report.wa_message_id or message.wa_message_id
    for step in (M.SENT, M.DELIVERED, M.READ):
        field = _AT[step]
        if getattr(message, field) is None and _RANK[step] <= _RANK.get(report.status, -1):
            setattr(message, field, report.timestamp)
    if report.status == M.FAILED:
        message.failed_at = report.timestamp
        message.error_code = report.error_code or "send_failed"
        message.error_message = report.error_message[:300]
    return True


@transaction.atomic
def message_statuses_apply(
    reports: list[StatusReport], *, node_id: str | None = None
) -> list[OutboundMessage | None]:
    """Apply reports in their order; return each one's message as it stands after it (None:
    no such message in that session, or one that node `node_id`, or the node a report names,
    may not report: see `node_serves`; None for `node_id` is the shared node token).

    Each status a message moves to emits `message.status` (with the message as it was then);
    a message is counted for usage once, when it first leaves `queued` for anything but
    `failed`. One read and one write for all the reports' messages.
    """
    ids = {report.message_id for report in reports}
    messages = {
        message.id: message
        for message in OutboundMessage.objects.select_for_update(of=("self",))
        .filter(id__in=ids)
        .annotate(on_node=F("session__worker_id"), moved_from=F("session__moved_from"))
    }
    changed: dict[str, OutboundMessage] = {}
    moved: list[tuple[str, str, float | None]] = []  # (status, type, accept→sent s) for metrics
    counted: Counter[tuple[int, str, int | None, object]] = Counter()
    results: list[OutboundMessage | None] = []
    for report in reports:
        message = messages.get(report.message_id)
        if (
            message is None
            or message.session_id != report.session_id
            or not all(
                node_serves(reporter, message.on_node, message.moved_from, message.node_id)
                for reporter in (node_id, report.worker_id or None)
            )
        ):
            results.append(None)
            continue
        was_queued = message.status == M.QUEUED
        was_sent = message.sent_at is not None
        if _advance(message, report):
            changed[message.id] = message
            moved.append((message.status, message.type, _send_latency_s(message, was_sent)))
            message_status_emit(message=message, timestamp=report.timestamp)
            if was_queued and report.status != M.FAILED:
                key = (message.owner_id, message.session_id, message.api_key_id)
                counted[(*key, report.timestamp.date())] += 1
        results.append(message)
    if changed:
        _write_back(list(changed.values()))
        transaction.on_commit(lambda: _metrics_count(moved))
    for (user_id, session_id, api_key_id, day), count in counted.items():
        usage_record_add(
            user_id=user_id,
            session_id=session_id,
            api_key_id=api_key_id,
            kind=UsageRecord.Kind.MESSAGE_OUT,
            billing_date=day,
            count=count,
        )
    return results


def _send_latency_s(message: OutboundMessage, was_sent: bool) -> float | None:
    """Seconds from accepting `message` to its `sent` (the node's timestamp), if it just got one."""
    if was_sent or message.sent_at is None or message.created_at is None:
        return None
    return max(0.0, (message.sent_at - message.created_at).total_seconds())


def _metrics_count(moved: list[tuple[str, str, float | None]]) -> None:
    for status, type_, latency_s in moved:
        MESSAGES.labels(status, type_).inc()
        if latency_s is not None:
            SEND_LATENCY.observe(latency_s)


def _write_back(messages: list[OutboundMessage]) -> None:
    """Save the status fields of `messages`: one UPDATE statement, executed per row.

    Django's bulk_update builds a CASE per field and row, which cost more than the reports
    themselves; the same UPDATE run with executemany is prepared once.
    """
    now = timezone.now()
    fields = [OutboundMessage._meta.get_field(name) for name in _FIELDS]
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(OutboundMessage._meta.db_table)} SET "
        + ", ".join(f"{quote(field.column)} = %s" for field in fields)
        + f" WHERE {quote(OutboundMessage._meta.pk.column)} = %s"
    )
    rows = []
    for message in messages:
        message.updated_at = now
        values = [
            field.get_db_prep_save(getattr(message, field.attname), connection) for field in fields
        ]
        rows.append([*values, message.pk])
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def message_status_apply(*, session_id: str, message_id: str, **report: object) -> OutboundMessage:
    """Apply one status report (StatusReport's fields); return the message. Raises
    MessageNotFound."""
    [message] = message_statuses_apply([StatusReport(session_id, message_id, **report)])
    if message is None:
        raise MessageNotFound()
    return message
