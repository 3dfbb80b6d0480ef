"""Reads for users and API keys."""

from __future__ import annotations

from functools import cache

from accounts.models import ApiKey, User
from billing.models import Plan, PlanOverride
from gateway.rowload import RowLoader, link
from sessions_app.sessions.models import Session


@cache
def _key_loader() -> RowLoader:
    key, user, plan = ApiKey._meta, User._meta, Plan._meta
    override, session = PlanOverride._meta, Session._meta
    return RowLoader(
        [(ApiKey, "k"), (User, "u"), (Plan, "p"), (PlanOverride, "o"), (Session, "s")],
        f"FROM {key.db_table} k"
        f" JOIN {user.db_table} u ON u.id = k.{key.get_field('owner').column}"
        f" JOIN {plan.db_table} p ON p.tier = u.{user.get_field('plan').column}"
        f" LEFT JOIN {override.db_table} o ON o.{override.get_field('user').column} = u.id"
        f" LEFT JOIN {session.db_table} s ON s.id = k.{key.get_field('session').column}"
        " WHERE k.key_hash = %s AND k.is_active = %s AND u.is_active = %s",
    )


def api_key_by_hash(key_hash: str) -> ApiKey | None:
    """Return the active key whose secret hashes to `key_hash`, of an active owner, with its
    owner, the owner's plan and plan override, and its session loaded (as `select_related`
    would, in one query compiled once per process: this runs on every API request)."""
    row = _key_loader().first([key_hash, True, True])
    if row is None:
        return None
    api_key, owner, plan, override, session = row
    assert isinstance(api_key, ApiKey)
    assert isinstance(owner, User)
    link(owner, "plan", plan)
    link(owner, "plan_override", override)
    if override is not None:
        link(override, "user", owner)
    link(api_key, "owner", owner)
    link(api_key, "session", session)
    return api_key
