import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, User, api_key_hash
from accounts.services import api_key_authenticate, api_key_create, api_key_revoke
from gateway.models import SystemLog
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def _command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_creates_user_and_prints_key_last(caplog):
    out, err = _command("--email", "New@Example.com")
    key = out.strip().splitlines()[-1]
    assert key.startswith("wag_")
    user = User.objects.get(email="new@example.com")
    assert not user.has_usable_password()
    stored = ApiKey.objects.get(owner=user)
    assert stored.key_hash == api_key_hash(key)
    assert key not in err
    assert key not in caplog.text
    assert key not in str(SystemLog.objects.values_list("message", "data"))
    assert api_key_authenticate(secret=key).owner == user


def test_command_binds_to_own_session_only(user, other_user):
    mine = SessionFactory(owner=user)
    theirs = SessionFactory(owner=other_user)
    out, _ = _command("--email", user.email, "--session", mine.id)
    assert ApiKey.objects.get(key_hash=api_key_hash(out.split()[-1])).session_id == mine.id
    with pytest.raises(CommandError):
        _command("--email", user.email, "--session", theirs.id)


@pytest.mark.parametrize("email", ["", "not-an-email"])
def test_command_rejects_bad_email(email):
    with pytest.raises(CommandError):
        _command("--email", email)
    assert not User.objects.exists()


def test_revoked_key_no_longer_authenticates(user):
    issued = api_key_create(owner=user, name="k")
    api_key_revoke(owner=user, api_key_id=issued.api_key.id)
    assert api_key_authenticate(secret=issued.secret) is None


def test_another_users_key_cannot_be_revoked(user, other_user):
    issued = api_key_create(owner=other_user, name="theirs")
    api_key_revoke(owner=user, api_key_id=issued.api_key.id)
    assert api_key_authenticate(secret=issued.secret) is not None
