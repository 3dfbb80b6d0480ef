"""Sign-up with e-mail verification: the form never tells whether an address is registered."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "Correct-Horse-42"
LINK = re.compile(r"http://testserver(/signup/verify/\S+)")


@pytest.fixture(autouse=True)
def _verification(settings):
    settings.SIGNUP_EMAIL_VERIFICATION = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _signup(client, email, password=PASSWORD):
    return client.post("/signup", {"email": email, "password1": password, "password2": password})


def _page(answer):
    # What an onlooker sees: status and page, less the address they typed and the CSRF token.
    html = answer.content.decode().replace(answer.wsgi_request.POST["email"], "")
    return answer.status_code, re.sub(r'"X-CSRFToken": "[^"]*"', "", html)


def _logs_in(client, email, password=PASSWORD):
    client.logout()
    return client.post("/login", {"email": email, "password": password}).status_code == 302


def test_a_new_and_a_taken_address_get_the_same_answer_and_differ_by_mail_only(client):
    UserFactory(email="taken@example.com")
    new, taken = _signup(client, "new@example.com"), _signup(client, "taken@example.com")
    assert _page(new) == _page(taken)
    assert new.status_code == 200
    assert "Check your inbox" in new.content.decode()
    assert "_auth_user_id" not in client.session
    to_new, to_taken = mail.outbox
    assert LINK.search(to_new.body)
    assert "already has one" in to_taken.body
    assert not LINK.search(to_taken.body)
    assert not User.objects.get(email="new@example.com").is_active


def test_the_link_activates_and_logs_in_once_and_a_bad_link_is_400(client):
    _signup(client, "new@example.com")
    path = LINK.search(mail.outbox[0].body).group(1)
    assert client.get(path[:-3] + "xyz").status_code == 400
    answer = client.get(path)
    assert answer.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.is_active
    assert user.email_verified_at is not None
    assert client.session["_auth_user_id"] == str(user.pk)
    assert _logs_in(client, "new@example.com")
    # Used once: the same link in another browser logs no one in, it sends to the login page.
    again = Client()
    answer = again.get(path)
    assert (answer.status_code, answer["Location"]) == (302, reverse("accounts:login"))
    assert "_auth_user_id" not in again.session


def test_a_later_sign_up_of_a_waiting_address_replaces_the_first_and_voids_its_link(client):
    _signup(client, "victim@example.com", "Strangers-Pass-1")  # someone else, first
    _signup(client, "victim@example.com")  # the address's owner
    first, second = (LINK.search(m.body).group(1) for m in mail.outbox)
    assert client.get(first).status_code == 400
    assert client.get(second).status_code == 302
    assert _logs_in(client, "victim@example.com")
    assert not _logs_in(client, "victim@example.com", "Strangers-Pass-1")


def test_a_deactivated_account_is_not_woken_by_a_sign_up(client):
    UserFactory(email="gone@example.com", is_active=False)
    _signup(client, "gone@example.com")
    assert "already has one" in mail.outbox[0].body
    assert not User.objects.get(email="gone@example.com").is_active


def test_without_verification_a_sign_up_logs_in_at_once(client, settings):
    settings.SIGNUP_EMAIL_VERIFICATION = False
    answer = _signup(client, "quick@example.com")
    assert answer.status_code == 302
    assert User.objects.get(email="quick@example.com").is_active
    assert not mail.outbox
