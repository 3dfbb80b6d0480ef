"""A session's store follows its login; rebalance spreads sessions over nodes of one store."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_connect, session_logout, session_status_apply
from tests.factories import ConnectedSessionFactory, SessionFactory
from tests.workers_app.fleet.helpers import STORE, popped
from workers_app.fleet.rebalance import workers_rebalance
from workers_app.models import Worker

pytestmark = pytest.mark.django_db

S = Session.Status


# --- The session store follows the session's login ----------------------------------------------


def test_connected_report_records_the_store_and_logout_clears_it(user, node):
    shared = node(session_store=STORE)
    session = SessionFactory(owner=user, worker=shared, status=S.QR_REQUIRED)
    now = timezone.now()
    session_status_apply(session_id=session.id, status=S.CONNECTED, timestamp=now)
    session.refresh_from_db()
    assert session.session_store == STORE

    session_status_apply(
        session_id=session.id, status=S.LOGGED_OUT, timestamp=now + timedelta(seconds=1)
    )
    session.refresh_from_db()
    assert session.session_store == ""

    local = node(session_store="")
    relinked = ConnectedSessionFactory(owner=user, worker=local, session_store=STORE)
    session_status_apply(
        session_id=relinked.id, status=S.CONNECTED, timestamp=now + timedelta(seconds=2)
    )
    relinked.refresh_from_db()
    assert relinked.session_store == ""


def test_user_logout_clears_the_store(user, node, django_capture_on_commit_callbacks):
    session = ConnectedSessionFactory(owner=user, worker=node(session_store=STORE))
    with django_capture_on_commit_callbacks(execute=True):
        session_logout(owner=user, session=session)
    session.refresh_from_db()
    assert (session.status, session.session_store) == (S.LOGGED_OUT, "")


def test_reconnect_after_node_loss_prefers_a_node_of_the_sessions_store(user, node):
    lost = node(session_store=STORE, status=Worker.Status.OFFLINE)
    node(session_store="", max_sessions=100)  # more room, but would need a new scan
    same_store = node(session_store=STORE)
    session = ConnectedSessionFactory(
        owner=user, worker=lost, status=S.DISCONNECTED, status_reason="node_lost"
    )
    session = session_connect(owner=user, session=session)
    assert session.worker_id == same_store.id


# --- Rebalance ---------------------------------------------------------------------------------


def test_rebalance_spreads_six_and_zero_to_three_and_three_then_moves_nothing(
    user, broker, node, django_capture_on_commit_callbacks
):
    busy = node(session_store=STORE)
    idle = node(session_store=STORE)
    sessions = [ConnectedSessionFactory(owner=user, worker=busy) for _ in range(6)]

    with django_capture_on_commit_callbacks(execute=True):
        moves = workers_rebalance()

    assert len(moves) == 3
    assert {(m.source, m.target) for m in moves} == {(busy.id, idle.id)}
    counts = Counter(Session.objects.values_list("worker_id", flat=True))
    assert counts == {busy.id: 3, idle.id: 3}
    moved_ids = {m.session_id for m in moves}
    assert moved_ids <= {s.id for s in sessions}
    # Live nodes hand over: every stop goes to the busy node, linked to a start on the idle one.
    handovers = popped(broker, busy.endpoint)
    assert {k["sessionId"] for _, k, _ in handovers} == moved_ids
    for task, kwargs, embed in handovers:
        assert (task, kwargs["moved"]) == ("node_agent.tasks.session_stop", True)
        assert embed["chain"][0]["options"]["queue"] == idle.endpoint
    assert popped(broker, idle.endpoint) == []

    assert workers_rebalance() == []


def test_rebalance_weighs_capacity_and_keeps_stores_and_drained_nodes_apart(user, node):
    small = node(session_store=STORE, max_sessions=10)
    large = node(session_store=STORE, max_sessions=20)
    drained = node(session_store=STORE, status=Worker.Status.DRAINING)
    elsewhere = node(session_store="pg-other")
    for _ in range(6):
        ConnectedSessionFactory(owner=user, worker=small)
    # Not CONNECTED, or its login is elsewhere: never moved by a rebalance.
    SessionFactory(owner=user, worker=small, status=S.QR_REQUIRED)
    ConnectedSessionFactory(owner=user, worker=small, session_store="")

    moves = workers_rebalance()

    counts = Counter(Session.objects.values_list("worker_id", flat=True))
    # 8 on small (10) and 0 on large (20) end 3/10 and 5/20: one more move would give 2/10
    # and 6/20, a wider spread.
    assert counts == {small.id: 3, large.id: 5}
    assert {m.target for m in moves} == {large.id}
    assert drained.id not in counts
    assert elsewhere.id not in counts


def test_rebalance_can_be_limited_to_some_nodes(user, node):
    busy = node(session_store=STORE)
    idle = node(session_store=STORE)
    for _ in range(4):
        ConnectedSessionFactory(owner=user, worker=busy)
    assert workers_rebalance(worker_ids=[busy.id]) == []
    assert len(workers_rebalance(worker_ids=[busy.id, idle.id])) == 2
