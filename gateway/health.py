"""`GET /health`: is the gateway ready? Database, broker and nodes."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse

from gateway.celery import app
from workers_app.models import Worker
from workers_app.selectors import workers_online_count


def _check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__}


def _check_broker() -> dict[str, Any]:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        return {"status": "ok", "transport": str(transport)}
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__}


def health(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database and the broker answer, else 503; nodes are reported.

    Shape: `{"status": "ok"|"degraded", "database": {...}, "broker": {...},
    "nodes": {"online": n, "total": n}}`, where online nodes are ONLINE with a fresh heartbeat.
    No secrets or URLs are included.
    """
    database = _check_database()
    broker = _check_broker()
    nodes: dict[str, Any] = {"online": 0, "total": 0}
    if database["status"] == "ok":
        nodes["total"] = Worker.objects.count()
        nodes["online"] = workers_online_count()
    ready = database["status"] == "ok" and broker["status"] == "ok"
    body = {
        "status": "ok" if ready else "degraded",
        "database": database,
        "broker": broker,
        "nodes": nodes,
    }
    return JsonResponse(body, status=200 if ready else 503)
