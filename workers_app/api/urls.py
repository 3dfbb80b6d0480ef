from django.urls import path

from workers_app.api import views

app_name = "api_workers"

urlpatterns = [
    path("workers", views.WorkerListApi.as_view(), name="list"),
    path("workers/register", views.WorkerRegisterApi.as_view(), name="register"),
    path("workers/rebalance", views.WorkerRebalanceApi.as_view(), name="rebalance"),
    path("workers/<id:worker_id>", views.WorkerDetailApi.as_view(), name="detail"),
    path("workers/<id:worker_id>/heartbeat", views.WorkerHeartbeatApi.as_view(), name="heartbeat"),
    path("workers/<id:worker_id>/drain", views.WorkerDrainApi.as_view(), name="drain"),
    path("workers/<id:worker_id>/undrain", views.WorkerUndrainApi.as_view(), name="undrain"),
]
