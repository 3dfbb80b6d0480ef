"""The account page: change the password, or reset a forgotten one by e-mail (Django's views)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from django.core import mail

from tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "a-new-Passw0rd-for-tests"


def test_the_account_page_links_password_keys_and_docs(logged_in, user):
    page = logged_in.get("/account").content.decode()
    assert user.email in page
    for href in ("/account/password", "/api-keys", "/api/docs/"):
        assert f'href="{href}"' in page
    assert 'href="/account"' in logged_in.get("/").content.decode()  # the e-mail in the top bar


def test_change_password_needs_the_old_one_and_keeps_you_logged_in(logged_in, user):
    wrong = logged_in.post(
        "/account/password",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200
    assert "incorrect" in wrong.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    done = logged_in.post(
        "/account/password",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/account"
    assert "Password changed." in done.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert logged_in.get("/").status_code == 200  # still logged in


def test_reset_a_forgotten_password_by_email(client, db):
    user = UserFactory()
    assert 'href="/password-reset"' in client.get("/login").content.decode()

    sent = client.post("/password-reset", {"email": user.email.upper()}, follow=True)
    assert "Check your e-mail" in sent.content.decode()
    [message] = mail.outbox
    assert message.to == [user.email]
    link = re.search(r"http://testserver(/password-reset/\S+)", message.body).group(1)

    form = client.get(link, follow=True)  # Django moves the token out of the URL first
    assert "Set a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    again = client.get(link, follow=True).content.decode()
    assert "not valid any more" in again  # the link works once


def test_reset_for_an_unknown_email_says_the_same_and_sends_nothing(client, db):
    sent = client.post("/password-reset", {"email": "nobody@example.com"}, follow=True)
    assert "Check your e-mail" in sent.content.decode()
    assert mail.outbox == []


def _email_settings(tmp_path, **env: str) -> list[str]:
    script = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_FILE_PATH if s.EMAIL_FILE_PATH else s.EMAIL_HOST, "
        "getattr(s, 'EMAIL_USE_TLS', False))"
    )
    environ = {key: value for key, value in os.environ.items() if key != "EMAIL_URL"}
    environ.update(DATA_DIR=str(tmp_path), ENV_FILE="", DJANGO_SETTINGS_MODULE="gateway.settings")
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_mail_goes_to_files_on_the_embedded_default_and_to_smtp_when_configured(tmp_path):
    assert _email_settings(tmp_path) == [
        "django.core.mail.backends.filebased.EmailBackend",
        str(tmp_path / "mail"),
        "False",
    ]
    assert _email_settings(tmp_path, EMAIL_URL="smtp+tls://u:p@smtp.example.com:587") == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "True",
    ]
