"""Django admin is safe to use: every page answers; what the gateway writes can't be typed in."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import Client
from django.utils import timezone

from accounts.services import api_key_create
from billing.models import PlanOverride
from billing.reconcile import SessionUsage, node_usage_apply
from billing.selectors import limits_for
from billing.services import quota_consume, usage_record_add
from billing.statements import statement_close
from gateway.models import system_log
from sessions_app.messages.services import message_received_apply
from sessions_app.messages.statuses import message_status_apply
from sessions_app.sessions.models import Session
from sessions_app.webhooks.endpoints import endpoint_create
from sessions_app.webhooks.models import WebhookEndpoint
from tests.factories import (
    PASSWORD,
    ConnectedSessionFactory,
    OutboundMessageFactory,
    UserFactory,
)
from workers_app.credentials import node_credential_issue

pytestmark = pytest.mark.django_db
# Rows the gateway writes itself: an operator reads and deletes them, never adds one.
WRITTEN_BY_THE_GATEWAY = {
    "gateway.systemlog",
    "accounts.apikey",
    "billing.usagerecord",
    "billing.quotacounter",
    "billing.monthlystatement",
    "billing.nodeusagereport",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
    "workers_app.worker",
    "sessions_app.session",
    "sessions_app.outboundmessage",
    "sessions_app.webhookendpoint",
    "sessions_app.webhookdelivery",
}


@pytest.fixture
def staff():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def one_of_each(user, settings):
    """One row of every model admin shows."""
    settings.ALLOW_PRIVATE_URLS = True
    message = OutboundMessageFactory(owner=user)
    endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["*"])
    message_status_apply(
        session_id=message.session_id,
        message_id=message.id,
        status="sent",
        timestamp=timezone.now(),
    )
    message_received_apply(session_id=message.session_id, message={"id": "in1", "type": "text"})
    api_key_create(owner=user, name="k", session=message.session)
    usage_record_add(
        user_id=user.id,
        session_id=message.session_id,
        api_key_id=None,
        billing_date=timezone.now().date(),
    )
    system_log(event="test", message="a line")
    PlanOverride.objects.create(user=user, messages_per_day=5, note="trial")
    quota_consume(user_id=user.id, limits=limits_for(user))
    statement_close(user=user, month=timezone.now().date().replace(day=1))
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    node_usage_apply(
        worker_id=message.session.worker_id,  # a node reports its own sessions
        period_start=hour,
        period_end=hour + timedelta(hours=1),
        sessions=[SessionUsage(session_id=message.session_id, sent=1, received=0)],
    )
    node_credential_issue(worker_id="node-1", note="rack 1")
    login = Client()  # django-axes' rows: a failed log-in, then a good one
    login.post("/login", {"email": "nobody@example.com", "password": "wrong"})
    login.post("/login", {"email": user.email, "password": PASSWORD})


def _label(model):
    return f"{model._meta.app_label}.{model._meta.model_name}"


def test_every_admin_page_answers_and_gateway_rows_cannot_be_added(staff, one_of_each):
    for model in admin.site._registry:
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        assert staff.get(base).status_code == 200, base
        row = model._default_manager.first()
        if opts.app_label != "auth":  # Django's own groups: none exist
            assert row is not None, f"no {_label(model)} row to show"
            # Admin's own links quote the key: "_22" in an id would otherwise read as '"'.
            assert staff.get(f"{base}{quote(row.pk)}/change/").status_code == 200, base
        add = staff.get(f"{base}add/").status_code
        if _label(model) in WRITTEN_BY_THE_GATEWAY:
            assert add == 403, (base, add)
        else:
            assert add == 200, (base, add)


def test_a_session_keeps_its_status_node_and_phone_when_an_operator_saves_it(staff, user):
    message = OutboundMessageFactory(owner=user)
    session = message.session
    page = f"/admin/sessions_app/session/{quote(session.id)}/change/"
    response = staff.post(
        page,
        {"name": "renamed", "status": "LOGGED_OUT", "phone_number": "1", "worker": ""},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    session.refresh_from_db()
    assert session.name == "renamed"
    assert (session.status, session.phone_number, session.worker_id) == (
        Session.Status.CONNECTED,
        "15550001111",
        message.session.worker_id,
    )


def test_admin_disables_a_webhook_through_the_service(staff, user, settings):
    settings.ALLOW_PRIVATE_URLS = True
    endpoint = endpoint_create(owner=user, url="http://127.0.0.1:9/hook", event_types=["*"])
    staff.post(
        "/admin/sessions_app/webhookendpoint/",
        {"action": "disable", "_selected_action": [endpoint.id]},
    )
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "Disabled by an operator.")


def test_plurals_and_the_header_read_right(staff):
    index = staff.get("/admin/").content.decode()
    assert "WhatsApp Gateway administration" in index
    assert "Webhook deliveries" in index
    assert "deliverys" not in index.lower()
    assert "Nodes" in index
    assert WebhookEndpoint._meta.verbose_name_plural == "webhook endpoints"


def test_deleting_a_session_or_its_user_in_admin_tells_the_nodes(
    staff, user, broker, worker, django_capture_on_commit_callbacks
):
    first = ConnectedSessionFactory(owner=user, worker=worker)
    second = ConnectedSessionFactory(owner=user, worker=worker)
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/admin/sessions_app/session/{quote(first.id)}/delete/", {"post": "yes"})
        staff.post(f"/admin/accounts/user/{user.id}/delete/", {"post": "yes"})
    told = [t["kwargs"]["sessionId"] for t in broker.drain(worker.endpoint)]
    assert told == [first.id, second.id]
    assert not Session.objects.exists()


def test_an_added_user_is_kept_lower_case_as_login_reads_it(staff):
    form = {"email": "New@Example.COM", "password1": "x7-long-pass", "password2": "x7-long-pass"}
    form.update({"plan": "BASIC", "usable_password": "true"})
    assert staff.post("/admin/accounts/user/add/", form).status_code == 302
    again = staff.post("/admin/accounts/user/add/", {**form, "email": "new@example.com"})
    assert "already exists" in again.content.decode()
    login = Client().post("/login", {"email": "new@example.com", "password": "x7-long-pass"})
    assert login.status_code == 302, login.content.decode()[:300]


def test_a_keys_owner_and_session_cannot_be_edited(staff, user):
    issued = api_key_create(owner=user, name="k")
    page = staff.get(f"/admin/accounts/apikey/{issued.api_key.id}/change/").content.decode()
    assert 'name="owner"' not in page
    assert 'name="session"' not in page
