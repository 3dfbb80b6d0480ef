"""Apply a node's hourly usage report (node_agent/usage.py) and reconcile it with the ledger.

A node reports, per completed UTC hour, what each of its sessions sent and received. The backend
keeps those figures per node, session and hour (NodeUsageReport) and compares the messages sent
with its own ledger: the session's OutboundMessage rows whose `sent_at` falls in the hour. The
node's outbox delivers reports in order, so the message-status reports of the hour were applied
before its usage report comes.

A mismatch goes to the System log; it is expected now and then: `sent_at` is the time of the
node's first status report of a message (a status report lost or refused leaves it empty or
later, a message stamped in the last microseconds of an hour may be reported in the next one),
and while a session moves between nodes in an hour, the first node's report is compared before
the second one's came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q, Sum

from billing.models import NodeUsageReport
from gateway.models import SystemLog, system_log
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session


@dataclass(frozen=True)
class SessionUsage:
    """One session's line of a usage report: messages `sent` and `received` in the hour."""

    session_id: str
    sent: int
    received: int


@dataclass
class UsageOutcome:
    """What a usage report did: how many session lines it stored, the sessions whose sent
    count disagrees with the ledger, and those the backend does not know."""

    applied: int = 0
    mismatched: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _served(worker_id: str, ids: list[str], start: datetime, end: datetime) -> set[str]:
    """The sessions of `ids` node `worker_id` serves now, hands over, or sent for in [start,
    end) (messages published to it): two queries."""
    on_node = Session.objects.filter(id__in=ids).filter(
        Q(worker_id=worker_id) | Q(moved_from=worker_id)
    )
    sent_for = OutboundMessage.objects.filter(
        session_id__in=ids, node_id=worker_id, sent_at__gte=start, sent_at__lt=end
    )
    return set(on_node.values_list("id", flat=True)) | set(
        sent_for.values_list("session_id", flat=True).distinct()
    )


def _ledger_sent(session_ids: list[str], start: datetime, end: datetime) -> dict[str, int]:
    """Return the ledger's count of messages sent in [start, end) per session (one query)."""
    rows = (
        OutboundMessage.objects.filter(
            session_id__in=session_ids, sent_at__gte=start, sent_at__lt=end
        )
        .values("session_id")
        .annotate(n=Count("id"))
    )
    return {row["session_id"]: row["n"] for row in rows}


def _other_nodes_sent(worker_id: str, session_ids: list[str], start: datetime) -> dict[str, int]:
    """Return what other nodes reported sent in the hour from `start`, per session."""
    rows = (
        NodeUsageReport.objects.filter(session_id__in=session_ids, period_start=start)
        .exclude(worker_id=worker_id)
        .values("session_id")
        .annotate(n=Sum("sent"))
    )
    return {row["session_id"]: row["n"] for row in rows}


def _hour(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"


@transaction.atomic
def node_usage_apply(
    *,
    worker_id: str,
    period_start: datetime,
    period_end: datetime,
    sessions: list[SessionUsage],
) -> UsageOutcome:
    """Store node `worker_id`'s usage of [period_start, period_end) (aware UTC datetimes, one
    whole hour) and reconcile each session's `sent` with the message ledger.

    Idempotent: one row per node, session and hour, and a repeat replaces its counts, never adds
    to them. `received` is stored as the node says: the backend keeps no per-hour ledger of
    incoming messages to compare it with.

    Reconciling: the `sent` of every node's report of the session and hour (a session that moved
    in the hour was on two) is compared with the ledger's count (`reconciled_sent`); a
    difference writes one System log entry `usage.mismatch` (WARNING) naming the session, the
    hour and both counts, again only when a repeat changes either count. A session the backend
    does not know (deleted, or never here) is stored with no user and no ledger count and logged
    once (`usage.unknown_session`); it is not an error. A session the node never served (not on
    it, not handed over from it, no message of the hour published to it) is not stored: it is
    `refused`, so one node cannot count against another's sessions. Session ids must be distinct.
    """
    ids = [usage.session_id for usage in sessions]
    owners = dict(Session.objects.filter(id__in=ids).values_list("id", "owner_id"))
    served = _served(worker_id, list(owners), period_start, period_end)
    outcome = UsageOutcome(refused=[i for i in ids if i in owners and i not in served])
    sessions = [usage for usage in sessions if usage.session_id not in outcome.refused]
    ids = [usage.session_id for usage in sessions]
    stored = {
        row.session_id: row
        for row in NodeUsageReport.objects.select_for_update().filter(
            worker_id=worker_id, period_start=period_start, session_id__in=ids
        )
    }
    ledger = _ledger_sent(list(owners), period_start, period_end)
    others = _other_nodes_sent(worker_id, ids, period_start)
    outcome.applied = len(sessions)
    rows = []
    for usage in sessions:
        before = stored.get(usage.session_id)
        known = usage.session_id in owners
        reconciled = ledger.get(usage.session_id, 0) if known else None
        user_id = owners.get(usage.session_id) or (before.user_id if before else None)
        rows.append(
            NodeUsageReport(
                worker_id=worker_id,
                session_id=usage.session_id,
                user_id=user_id,
                period_start=period_start,
                period_end=period_end,
                sent=usage.sent,
                received=usage.received,
                reconciled_sent=reconciled,
            )
        )
        if not known:
            outcome.unknown.append(usage.session_id)
            if before is None:
                _log_unknown(worker_id, usage, period_start, period_end)
            continue
        nodes_sent = usage.sent + others.get(usage.session_id, 0)
        if nodes_sent == reconciled:
            continue
        outcome.mismatched.append(usage.session_id)
        if before is None or (before.sent, before.reconciled_sent) != (usage.sent, reconciled):
            _log_mismatch(
                worker_id, usage, period_start, period_end, nodes_sent, reconciled, user_id
            )
    NodeUsageReport.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["worker_id", "session_id", "period_start"],
        update_fields=["user", "period_end", "sent", "received", "reconciled_sent", "updated_at"],
    )
    return outcome


def _log_unknown(worker_id: str, usage: SessionUsage, start: datetime, end: datetime) -> None:
    system_log(
        event="usage.unknown_session",
        message=f"Node {worker_id} reported usage of session {usage.session_id}, which the "
        f"backend does not know, for {_hour(start, end)}: {usage.sent} sent, "
        f"{usage.received} received (kept without a user)",
        session_id=usage.session_id,
        worker_id=worker_id,
        periodStart=start.isoformat(),
        sent=usage.sent,
        received=usage.received,
    )


def _log_mismatch(
    worker_id: str,
    usage: SessionUsage,
    start: datetime,
    end: datetime,
    nodes_sent: int,
    ledger_sent: int | None,
    user_id: int | None,
) -> None:
    with_others = f" ({nodes_sent} with other nodes' reports)" if nodes_sent != usage.sent else ""
    system_log(
        event="usage.mismatch",
        level=SystemLog.Level.WARNING,
        message=f"Usage of session {usage.session_id} for {_hour(start, end)}: node {worker_id} "
        f"reports {usage.sent} sent{with_others}, the message ledger has {ledger_sent}",
        user_id=user_id,
        session_id=usage.session_id,
        worker_id=worker_id,
        periodStart=start.isoformat(),
        periodEnd=end.isoformat(),
        nodeSent=usage.sent,
        nodesSent=nodes_sent,
        ledgerSent=ledger_sent,
    )
