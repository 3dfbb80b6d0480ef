"""Routes of the chats and presence API, under /api/v1/sessions/{id}/."""

from django.urls import path

from sessions_app.chats.api import views

_AT = "sessions/<id:session_id>"

urlpatterns = [
    path(f"{_AT}/chats", views.ChatListApi.as_view(), name="chats"),
    path(f"{_AT}/chats/<str:chat>", views.ChatDetailApi.as_view(), name="chat"),
    path(f"{_AT}/chats/<str:chat>/read", views.ChatReadApi.as_view(), name="chat-read"),
    path(f"{_AT}/chats/<str:chat>/presence", views.ChatPresenceApi.as_view(), name="chat-presence"),
    path(f"{_AT}/presence", views.PresenceApi.as_view(), name="presence"),
    path(f"{_AT}/calls", views.CallPolicyApi.as_view(), name="call-policy"),
    path(
        f"{_AT}/contacts/<str:contact>/presence",
        views.ContactPresenceApi.as_view(),
        name="contact-presence",
    ),
]
