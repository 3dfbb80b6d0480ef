"""The dashboard's URL map (app `sessions`; the accounts pages are `accounts.urls`)."""

from django.urls import path

from sessions_app.dashboard import messages, people, traffic, webhooks
from sessions_app.dashboard import sessions as views

app_name = "sessions"

SESSION = "sessions/<id:session_id>"
WEBHOOK = "webhooks/<id:webhook_id>"

urlpatterns = [
    path("", views.session_list_view, name="list"),
    path("sessions/new", views.session_create_view, name="create"),
    path("sessions/rows", views.session_rows, name="rows"),
    path(SESSION, views.session_detail, name="detail"),
    path(f"{SESSION}/status", views.session_status, name="status"),
    path(f"{SESSION}/connect", views.session_connect_view, name="connect"),
    path(f"{SESSION}/disconnect", views.session_disconnect_view, name="disconnect"),
    path(f"{SESSION}/logout", views.session_logout_view, name="logout"),
    path(f"{SESSION}/delete", views.session_delete_view, name="delete"),
    path(f"{SESSION}/sandbox/scan", views.sandbox_scan_view, name="sandbox_scan"),
    path(f"{SESSION}/sandbox/incoming", views.sandbox_incoming_view, name="sandbox_incoming"),
    path(f"{SESSION}/sandbox/logout", views.sandbox_logout_view, name="sandbox_logout"),
    path(f"{SESSION}/messages", messages.session_messages, name="messages"),
    path(f"{SESSION}/messages/<id:message_id>", messages.message_status, name="message_status"),
    path(f"{SESSION}/log", traffic.message_log, name="message_log"),
    path(f"{SESSION}/groups", people.session_groups, name="groups"),
    path(f"{SESSION}/groups/<str:group_id>", people.session_group, name="group"),
    path(f"{SESSION}/contacts", people.session_contacts, name="contacts"),
    path("events", traffic.event_monitor, name="events"),
    path("events/feed", traffic.event_feed, name="event_feed"),
    path("webhooks", webhooks.webhook_list_view, name="webhooks"),
    path(f"{WEBHOOK}/toggle", webhooks.webhook_toggle_view, name="webhook_toggle"),
    path(f"{WEBHOOK}/rotate", webhooks.webhook_rotate_view, name="webhook_rotate"),
    path(f"{WEBHOOK}/delete", webhooks.webhook_delete_view, name="webhook_delete"),
    path(f"{WEBHOOK}/deliveries", webhooks.webhook_deliveries_view, name="webhook_deliveries"),
    path(f"{WEBHOOK}/test", webhooks.webhook_test_view, name="webhook_test"),
    path(
        f"{WEBHOOK}/deliveries/<id:delivery_id>/replay",
        webhooks.webhook_replay_view,
        name="webhook_replay",
    ),
]
