"""Writes for usage accounting."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F

from billing.models import UsageRecord


def usage_record_add(
    *,
    user_id: int,
    session_id: str | None,
    api_key_id: int | None,
    kind: str = UsageRecord.Kind.MESSAGE_OUT,
    billing_date: date,
    count: int = 1,
) -> None:
    """Add `count` to the day's usage row for this user, session and key (creating it).

    Concurrent callers never lose an increment: the row is updated in place with `F()`, and a
    racing insert falls back to the update.
    """
    keys = {
        "user_id": user_id,
        "session_id": session_id,
        "api_key_id": api_key_id,
        "kind": kind,
        "billing_date": billing_date,
    }
    if UsageRecord.objects.filter(**keys).update(count=F("count") + count):
        return
    try:
        with transaction.atomic():
            UsageRecord.objects.create(count=count, **keys)
    except IntegrityError:
        UsageRecord.objects.filter(**keys).update(count=F("count") + count)
