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
app.autodiscover_tasks(["sessions_app.webhooks"])  # tasks in a sub-package
install_ack_wakeup(app)
