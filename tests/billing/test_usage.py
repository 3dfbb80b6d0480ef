"""Usage records outlive the sessions and keys they were counted for."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.services import api_key_create
from billing.models import UsageRecord
from billing.services import usage_record_add
from tests.factories import ConnectedSessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_deleting_two_sessions_used_the_same_day_keeps_both_usage_rows(api, user, api_key):
    today = timezone.now().date()
    sessions = [ConnectedSessionFactory(owner=user) for _ in range(2)]
    bound = api_key_create(owner=user, name="bound", session=sessions[1]).api_key
    api_key = api_key.api_key
    for session in sessions:
        for key in (api_key, bound):
            usage_record_add(
                user_id=user.id,
                session_id=session.id,
                api_key_id=key.id,
                kind=UsageRecord.Kind.MESSAGE_OUT,
                billing_date=today,
            )

    for session in sessions:
        response = api.delete(f"/api/v1/sessions/{session.id}")
        assert response.status_code == 200, response.content

    rows = UsageRecord.objects.filter(user=user).order_by("session_id", "api_key_id")
    assert sorted((r.session_id, r.api_key_id, r.count) for r in rows) == sorted(
        (s.id, k.id, 1) for s in sessions for k in (api_key, bound)
    )


def test_admin_lists_usage_of_deleted_sessions(client, user, api, api_key):
    api_key = api_key.api_key
    staff = UserFactory(is_staff=True, is_superuser=True)
    session = ConnectedSessionFactory(owner=user)
    usage_record_add(
        user_id=user.id,
        session_id=session.id,
        api_key_id=api_key.id,
        kind=UsageRecord.Kind.MESSAGE_OUT,
        billing_date=timezone.now().date(),
    )
    assert api.delete(f"/api/v1/sessions/{session.id}").status_code == 200
    client.force_login(staff)

    page = client.get("/admin/billing/usagerecord/")

    assert page.status_code == 200
    assert session.id in page.content.decode()
    row = UsageRecord.objects.get(session_id=session.id)
    assert client.get(f"/admin/billing/usagerecord/{row.id}/change/").status_code == 200
