from typing import Any

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from celery.signals import worker_init

        import gateway.schema.fields  # noqa: F401 (registers the OpenAPI field hints)

        worker_init.connect(_start_worker_metrics, weak=False)


def _start_worker_metrics(sender: Any = None, **kwargs: Any) -> None:
    """The backend Celery worker serves /metrics on METRICS_WORKER_HOST:METRICS_WORKER_PORT
    (a node agent's worker is another Celery app: it serves on its health server instead)."""
    if getattr(getattr(sender, "app", None), "main", None) != "gateway":
        return
    from django.conf import settings

    from gateway.metrics import worker_metrics_start

    worker_metrics_start(
        host=settings.METRICS_WORKER_HOST,
        port=settings.METRICS_WORKER_PORT,
        token=settings.METRICS_TOKEN,
        networks=settings.METRICS_ALLOWED_NETWORKS,
    )
