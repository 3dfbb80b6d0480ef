"""Dashboard first run: the engine preselected for this gateway, the getting-started card."""

import re

import pytest

from accounts.services import api_key_authenticate
from sessions_app.sessions.models import Session
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def _engine_options(client):
    return re.findall(r'<option value="(\w+)"( selected)?>', client.get("/").content.decode())


def test_list_preselects_whatsapp_when_a_node_reaches_it(logged_in):
    WorkerFactory()
    page = logged_in.get("/").content.decode()

    assert _engine_options(logged_in) == [("whatsapp", " selected"), ("sandbox", "")]
    assert "simulated WhatsApp network for testing" in page
    assert "No sessions yet." in page


def test_list_preselects_the_sandbox_when_no_node_reaches_whatsapp(logged_in, settings):
    assert _engine_options(logged_in) == [("whatsapp", ""), ("sandbox", " selected")]  # no node
    WorkerFactory(unreachable_engines=["whatsapp"])
    WorkerFactory(engines=["sandbox"])
    assert _engine_options(logged_in) == [("whatsapp", ""), ("sandbox", " selected")]
    WorkerFactory(status="OFFLINE")  # reaches WhatsApp, but is not online
    assert _engine_options(logged_in) == [("whatsapp", ""), ("sandbox", " selected")]
    WorkerFactory()
    assert _engine_options(logged_in)[0] == ("whatsapp", " selected")
    settings.CELERY_BROKER_URL = "filesystem://"  # the embedded default: a first run
    assert _engine_options(logged_in) == [("whatsapp", ""), ("sandbox", " selected")]


def test_getting_started_walks_to_a_first_message_with_the_users_own_ids(logged_in, user):
    page = logged_in.get("/").content.decode()
    assert "Getting started" in page
    assert 'value="My sandbox"' in page  # step 1: one click

    logged_in.post("/sessions/new", {"name": "My sandbox", "engine": "sandbox"})
    session = Session.objects.get(owner=user)
    page = logged_in.get("/").content.decode()
    assert f'"sessionId": "{session.id}"' in page
    assert "Bearer $KEY" in page
    assert "Make an API key" in page

    made = logged_in.post("/api-keys", {"name": "Getting started", "then": "sessions"})
    assert made["Location"] == "/"
    shown = logged_in.get("/")
    key = re.search(r"Bearer (wag_\S+)\"", shown.content.decode()).group(1)
    assert api_key_authenticate(secret=key) is not None
    assert "no-store" in shown["Cache-Control"]
    assert key not in logged_in.get("/").content.decode()  # shown once

    OutboundMessageFactory(session=ConnectedSessionFactory(owner=user))
    assert "Getting started" not in logged_in.get("/").content.decode()
