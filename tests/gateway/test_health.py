from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import WorkerFactory
from workers_app.models import Worker

pytestmark = pytest.mark.django_db


def test_health_counts_only_online_nodes_with_a_fresh_heartbeat(settings):
    settings.WORKER_HEARTBEAT_INTERVAL = 10
    WorkerFactory()  # fresh
    WorkerFactory(last_heartbeat=None)  # added ahead, never heartbeat
    WorkerFactory(last_heartbeat=timezone.now() - timedelta(seconds=31))  # not swept yet
    WorkerFactory(status=Worker.Status.DRAINING)

    body = Client().get("/health").json()

    assert body["nodes"] == {"online": 1, "total": 4}
