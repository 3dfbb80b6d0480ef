"""Brute force and suspension: wrong keys and passwords slow down, a suspended user is shut out."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import user_reactivate, user_suspend
from sessions_app.sessions.models import Session
from tests.factories import PASSWORD, ConnectedSessionFactory

pytestmark = pytest.mark.django_db


def _keyed(secret: str, address: str = "203.0.113.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_wrong_keys_from_one_address_are_throttled_even_before_a_right_one(settings, api_key):
    settings.API_AUTH_FAILURES_PER_MINUTE = 5
    wrong = _keyed("wag_" + "x" * 40)
    answers = [wrong.get("/api/v1/sessions") for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert answers[0]["RateLimit-Policy"] == '"auth";q=5;w=60'
    assert answers[5].json()["error"]["code"] == "rate_limited"
    assert int(answers[5]["Retry-After"]) >= 1
    # The right key from that address waits too (a guesser gets no oracle); elsewhere it works.
    assert _keyed(api_key.secret).get("/api/v1/sessions").status_code == 429
    assert _keyed(api_key.secret, "198.51.100.9").get("/api/v1/sessions").status_code == 200


def test_a_suspended_users_keys_answer_401_and_sessions_disconnect(api, user):
    session = ConnectedSessionFactory(owner=user)
    assert user_suspend(user=user, reason="test") == 1
    answer = api.get("/api/v1/sessions")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "account_suspended"
    assert Session.objects.get(id=session.id).status == Session.Status.DISCONNECTED
    user_reactivate(user=user)
    assert api.get("/api/v1/sessions").status_code == 200


def test_a_suspended_user_cannot_log_in_and_is_logged_out(user):
    dashboard = Client()
    dashboard.force_login(user)
    user_suspend(user=user)
    assert dashboard.get("/").status_code == 302
    assert "_auth_user_id" not in dashboard.session
    answer = Client().post("/login", {"email": user.email, "password": PASSWORD})
    assert answer.status_code == 200
    assert "suspended" in answer.content.decode()


def test_repeated_wrong_passwords_lock_the_address_and_email_out(settings, user):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="203.0.113.8")
    for _ in range(3):
        client.post("/login", {"email": user.email, "password": "wrong"})
    locked = client.post("/login", {"email": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    other = Client(REMOTE_ADDR="198.51.100.10")
    assert other.post("/login", {"email": user.email, "password": PASSWORD}).status_code == 302


def test_sign_ups_from_one_address_are_throttled(settings):
    settings.SIGNUPS_PER_HOUR = 2
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = []
    for n in range(3):
        form = {"email": f"new{n}@example.com", "password1": PASSWORD, "password2": PASSWORD}
        codes.append(client.post("/signup", form).status_code)
        client.logout()
    assert codes == [302, 302, 429]
