"""Dashboard pages for accounts: sign up, log in and out, API keys."""

import re

import pytest
from django.urls import reverse

from accounts.models import ApiKey, User, api_key_hash
from accounts.services import api_key_create, user_create
from sessions_app.sessions.services import session_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r"wag_[A-Za-z0-9_-]{40}")


def test_signup_logs_in_and_shows_the_session_list(client):
    response = client.post(
        "/signup",
        {"email": "New@Example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("sessions:list"), 302)]
    page = response.content.decode()
    assert "<h1>Sessions</h1>" in page
    assert "new@example.com" in page  # the header shows who is logged in
    assert response.wsgi_request.user.email == "new@example.com"
    assert User.objects.get(email="new@example.com").check_password(PASSWORD)


def test_signup_shows_field_errors(client):
    user_create(email="taken@example.com", password=PASSWORD)

    response = client.post(
        "/signup", {"email": "TAKEN@example.com", "password1": "123", "password2": "1234"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "An account with this email already exists." in page
    assert "The two passwords differ." in page
    assert User.objects.count() == 1


def test_signup_applies_the_password_validators(client):
    response = client.post(
        "/signup", {"email": "a@example.com", "password1": "password", "password2": "password"}
    )

    assert "This password is too common." in response.content.decode()
    assert not User.objects.filter(email="a@example.com").exists()


def test_login_with_the_right_password_goes_to_the_session_list(client):
    user_create(email="me@example.com", password=PASSWORD)

    response = client.post("/login", {"email": "ME@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("sessions:list")
    assert response.wsgi_request.user.is_authenticated


def test_login_with_a_wrong_password_fails(client):
    user_create(email="me@example.com", password=PASSWORD)

    response = client.post("/login", {"email": "me@example.com", "password": "wrong password"})

    assert response.status_code == 200
    assert "Email or password is wrong." in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
    assert client.get("/").status_code == 302


def test_login_follows_a_local_next_but_not_another_host(client):
    user_create(email="me@example.com", password=PASSWORD)
    form = {"email": "me@example.com", "password": PASSWORD}

    assert client.post("/login", {**form, "next": "/api-keys"})["Location"] == "/api-keys"
    client.logout()
    evil = client.post("/login", {**form, "next": "https://evil.example/"})
    assert evil["Location"] == reverse("sessions:list")


def test_pages_need_login(client):
    for path in ("/", "/api-keys", "/sessions/ses_whatever"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login?next=")


def test_htmx_poll_without_login_sends_the_page_to_login(client):
    response = client.get("/sessions/rows", headers={"HX-Request": "true"})

    assert response["HX-Redirect"] == "/login"


def test_logout_is_a_post(logged_in):
    assert logged_in.get("/logout").status_code == 405

    response = logged_in.post("/logout")

    assert response["Location"] == reverse("accounts:login")
    assert logged_in.get("/").status_code == 302


def test_header_links_admin_only_for_staff(client, user):
    client.force_login(user)
    page = client.get("/").content.decode()
    assert 'href="/api/docs/"' in page
    assert 'href="/api-keys"' in page
    assert 'href="/admin/"' not in page

    client.force_login(UserFactory(is_staff=True))
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_body_carries_the_csrf_token_for_htmx(logged_in):
    page = logged_in.get("/").content.decode()

    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"[A-Za-z0-9]{32,}\"\}'>", page)


def test_api_key_secret_is_shown_once_and_only_its_hash_is_stored(logged_in, user):
    created = logged_in.post("/api-keys", {"name": "CI", "session": ""})

    assert created.status_code == 302
    assert created["Location"] == "/api-keys"  # post/redirect/get: a reload creates nothing
    assert not SECRET_RE.search(created["Location"] + created.content.decode())
    response = logged_in.get("/api-keys")
    page = response.content.decode()
    secrets = set(SECRET_RE.findall(page))
    assert len(secrets) == 1
    secret = secrets.pop()
    assert "won't be shown again" in page
    assert 'data-copy="new-secret"' in page
    assert "no-store" in response["Cache-Control"]

    key = ApiKey.objects.get(owner=user)
    assert key.key_hash == api_key_hash(secret)
    assert secret not in {key.name, key.prefix, key.key_hash}
    assert secret.startswith(key.prefix)

    again = logged_in.get("/api-keys").content.decode()
    assert secret not in again
    assert f"{key.prefix}…" in again
    assert "All sessions" in again
    # Nothing of it stayed in the server-side session either, and a reload made no second key.
    assert secret not in str(dict(logged_in.session.items()))
    assert ApiKey.objects.filter(owner=user).count() == 1


def test_api_key_session_choice_is_limited_to_own_sessions(logged_in, user, other_user):
    mine = session_create(owner=user, name="Mine", engine="sandbox")
    theirs = session_create(owner=other_user, name="Theirs", engine="sandbox")

    page = logged_in.get("/api-keys").content.decode()
    assert "Mine" in page
    assert "Theirs" not in page

    refused = logged_in.post("/api-keys", {"name": "x", "session": theirs.id})
    assert "Select a valid choice" in refused.content.decode()
    assert not ApiKey.objects.exists()

    logged_in.post("/api-keys", {"name": "bound", "session": mine.id})
    assert ApiKey.objects.get(owner=user).session == mine
    listed = logged_in.get("/api-keys").content.decode()
    assert re.search(r"<td>bound</td>\s*<td><code>wag_[^<]+…</code></td>\s*<td>Mine</td>", listed)


def test_api_key_create_needs_a_name(logged_in):
    response = logged_in.post("/api-keys", {"name": "", "session": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not SECRET_RE.search(response.content.decode())
    assert not ApiKey.objects.exists()


def test_revoke_deactivates_own_key_only(logged_in, user, other_user):
    logged_in.post("/api-keys", {"name": "mine"})
    mine = ApiKey.objects.get(owner=user)
    theirs = api_key_create(owner=other_user, name="theirs").api_key

    response = logged_in.post(f"/api-keys/{mine.id}/revoke", follow=True)
    refused = logged_in.post(f"/api-keys/{theirs.id}/revoke", follow=True).content.decode()

    assert "API key revoked." in response.content.decode()
    assert "No active key of yours has that id." in refused
    assert "API key revoked." not in refused
    assert "Revoked" in response.content.decode()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert not mine.is_active
    assert theirs.is_active
