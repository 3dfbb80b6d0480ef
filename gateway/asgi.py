"""The ASGI entry point of the event stream process: `uvicorn gateway.asgi:application`.

Only the live event stream is served here (sessions_app/webhooks/stream/app.py): the REST API
and the dashboard stay on the WSGI web process (gateway/wsgi.py), where a request holds a
thread for milliseconds, not for as long as a stream is open.
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
django.setup()

from sessions_app.webhooks.stream.app import application  # noqa: E402

__all__ = ["application"]
