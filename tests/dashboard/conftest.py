"""Fixtures for the dashboard's view tests: a logged-in browser-like client."""

import pytest

PASSWORD = "correct horse battery staple"


@pytest.fixture
def logged_in(client, user):
    """Django's test client, logged in as `user` (password: PASSWORD)."""
    client.force_login(user)
    return client
