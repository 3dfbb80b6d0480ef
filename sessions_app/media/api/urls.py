"""Routes of the media API, under /api/v1/."""

from django.urls import path

from sessions_app.media.api import views

urlpatterns = [
    path("media/<id:media_id>", views.MediaDownloadApi.as_view(), name="media"),
]
