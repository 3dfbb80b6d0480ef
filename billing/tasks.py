"""Celery tasks of billing (thin: they call the services)."""

from __future__ import annotations

from celery import shared_task

from billing.statements import statements_close


@shared_task(name="billing.tasks.close_statements")
def close_statements() -> int:
    """Close last month's statements (daily; a month closed before is left as it is)."""
    return statements_close()
