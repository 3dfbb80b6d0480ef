"""The precompiled key and session lookups load exactly what the ORM's select_related does."""

from __future__ import annotations

import sys

import pytest
from django.forms.models import model_to_dict

from accounts.models import ApiKey, api_key_hash
from accounts.selectors import api_key_by_hash
from accounts.services import api_key_create
from billing.models import PlanOverride
from sessions_app.errors import SessionNotFound
from sessions_app.sessions.selectors import session_get
from tests.factories import ConnectedSessionFactory

pytestmark = pytest.mark.django_db


def _orm(secret: str) -> ApiKey:
    return ApiKey.objects.select_related(
        "owner", "owner__plan", "owner__plan_override", "session"
    ).get(key_hash=api_key_hash(secret))


def _fields(instance: object) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_bound_key_with_an_override_loads_every_field_and_relation(
    user, django_assert_num_queries
):
    session = ConnectedSessionFactory(owner=user)
    PlanOverride.objects.create(user=user, messages_per_day=7, send_rate_per_s=2.5)
    secret = api_key_create(owner=user, name="bound", session=session).secret
    loaded, orm = api_key_by_hash(api_key_hash(secret)), _orm(secret)
    assert _fields(loaded) == _fields(orm)
    assert _fields(loaded.owner) == _fields(orm.owner)
    assert _fields(loaded.owner.plan) == _fields(orm.owner.plan)
    assert _fields(loaded.owner.plan_override) == _fields(orm.owner.plan_override)
    assert _fields(loaded.session) == _fields(orm.session)
    # Typed as the ORM types them (datetimes aware, JSON decoded, floats), on every backend.
    assert loaded.session.created_at.tzinfo is not None
    assert loaded.owner.plan.engines == orm.owner.plan.engines
    assert loaded.owner.plan_override.send_rate_per_s == 2.5
    with django_assert_num_queries(0):
        assert loaded.owner.plan_override.user is loaded.owner
        assert loaded.session.owner_id == user.id


def test_no_override_and_no_session_read_as_select_related_reads_them(user):
    secret = api_key_create(owner=user, name="wide").secret
    loaded = api_key_by_hash(api_key_hash(secret))
    assert loaded.session is None
    with pytest.raises(PlanOverride.DoesNotExist):
        loaded.owner.plan_override  # noqa: B018 (the access is the test)


def test_revoked_keys_and_inactive_owners_are_not_found(user):
    issued = api_key_create(owner=user, name="k")
    ApiKey.objects.filter(id=issued.api_key.id).update(is_active=False)
    assert api_key_by_hash(api_key_hash(issued.secret)) is None
    other = api_key_create(owner=user, name="k2")
    type(user).objects.filter(id=user.id).update(is_active=False)
    assert api_key_by_hash(api_key_hash(other.secret)) is None


def test_session_get_is_scoped_to_owner_and_bound_key(user, other_user):
    mine, theirs = ConnectedSessionFactory(owner=user), ConnectedSessionFactory(owner=other_user)
    assert model_to_dict(session_get(owner=user, session_id=mine.id)) == model_to_dict(mine)
    with pytest.raises(SessionNotFound):
        session_get(owner=user, session_id=theirs.id)
    second = ConnectedSessionFactory(owner=user)
    bound = api_key_create(owner=user, name="b", session=mine).api_key
    assert session_get(owner=user, session_id=mine.id, api_key=bound).id == mine.id
    with pytest.raises(SessionNotFound):
        session_get(owner=user, session_id=second.id, api_key=bound)


@pytest.mark.django_db(transaction=True)
def test_a_fresh_loader_shared_by_many_threads_answers_each_of_them(user):
    session = ConnectedSessionFactory(owner=user)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads change hands often, as under a loaded web worker
    try:
        _race_fresh_loaders(session)
    finally:
        sys.setswitchinterval(switch)


def _race_fresh_loaders(session):
    import threading

    from django.db import connection

    from gateway.rowload import RowLoader
    from sessions_app.sessions.models import Session

    for _ in range(10):  # each round a fresh loader, so its first use is raced
        loader = RowLoader([(Session, "s")], "FROM sessions_app_session s WHERE s.id = %s")
        start, found, failed = threading.Barrier(12), [], []

        def load(loader=loader, start=start, found=found, failed=failed):
            start.wait()
            try:
                found.append(loader.first([session.id])[0].id)
            except Exception as exc:  # noqa: BLE001 (the test counts them)
                failed.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=load) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failed
        assert found == [session.id] * 12
