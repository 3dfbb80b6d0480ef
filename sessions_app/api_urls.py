"""The public API's URL map (`/api/v1/`): each sub-package's routes, under one namespace."""

from sessions_app.chats.api.urls import urlpatterns as chats
from sessions_app.contacts.api.urls import urlpatterns as contacts
from sessions_app.groups.api.urls import urlpatterns as groups
from sessions_app.media.api.urls import urlpatterns as media
from sessions_app.messages.api.urls import urlpatterns as messages
from sessions_app.sessions.api.urls import urlpatterns as sessions
from sessions_app.webhooks.api.urls import urlpatterns as webhooks

app_name = "api_sessions"

urlpatterns = [*sessions, *messages, *media, *webhooks, *groups, *contacts, *chats]
