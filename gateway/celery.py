"""The backend's Celery app: queues `default` (periodic work) and `webhooks`.

Tasks for nodes are not run here: they are published by name to `node.<workerId>` queues.
"""

import os

from celery import Celery

from node_agent.broker import install_ack_wakeup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

app = Celery("gateway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Tasks in sub-packages, which autodiscovery (one `tasks` module per app) does not find.
app.autodiscover_tasks(["sessions_app.messages", "sessions_app.sessions", "sessions_app.webhooks"])
install_ack_wakeup(app)
