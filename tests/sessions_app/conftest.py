"""Fixtures of the sessions app's tests: a connected session, what a send publishes, and a media
storage in tmp."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest


@pytest.fixture
def session(user: Any) -> Any:
    """A CONNECTED session of `user`, on a node (the session RPC API tests ask it)."""
    from tests.factories import ConnectedSessionFactory

    return ConnectedSessionFactory(owner=user)


@pytest.fixture
def published() -> Any:
    """Record the node tasks message sends publish, instead of publishing them.

    Patches the node client where `sessions_app.messages.services` calls it; each entry is
    `{"worker_id", "task" (its Celery name), "kwargs" (its wire form)}`.
    """
    calls: list[dict[str, Any]] = []

    def record(*, worker_id: str, task: Any, expires_s: float | None = None) -> None:
        calls.append({"worker_id": worker_id, "task": task.name, "kwargs": task.to_wire()})

    with mock.patch("sessions_app.messages.services.node_publish_on_commit", side_effect=record):
        yield calls


@pytest.fixture
def media_storage(settings: Any, tmp_path: Any) -> None:
    """Keep media on local disk under tmp; let media URLs reach the loopback test server."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.ALLOW_PRIVATE_URLS = True
    settings.MEDIA_DOWNLOAD_TIMEOUT_S = 1.0
