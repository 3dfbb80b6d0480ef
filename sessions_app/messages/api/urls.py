"""Routes of the messages API, under /api/v1/."""

from django.urls import path

from sessions_app.messages.api import views

urlpatterns = [
    path("messages", views.MessageSendApi.as_view(), name="send"),
    path("messages/<id:message_id>", views.MessageDetailApi.as_view(), name="message"),
    path("sessions/<id:session_id>/messages", views.SessionMessagesApi.as_view(), name="messages"),
    path(
        "sessions/<id:session_id>/contacts/check",
        views.ContactCheckApi.as_view(),
        name="contacts-check",
    ),
]
