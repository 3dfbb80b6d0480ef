"""Fixtures of the billing tests: what a send publishes (shared with the sessions tests)."""

from tests.sessions_app.conftest import published  # noqa: F401
