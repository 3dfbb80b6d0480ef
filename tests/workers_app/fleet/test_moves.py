from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from gateway.models import SystemLog
from node_agent.protocol import SessionStart
from sessions_app.messages.models import OutboundMessage
from sessions_app.messages.services import messages_republish
from sessions_app.sessions.models import Session
from sessions_app.sessions.services import (
    session_delete,
    session_status_apply,
    sessions_fail_stalled,
)
from tests.factories import ConnectedSessionFactory, OutboundMessageFactory, SessionFactory
from tests.workers_app.fleet.helpers import STORE, popped, popped_with_headers
from workers_app.fleet.health import workers_mark_offline
from workers_app.fleet.moves import sessions_move_away
from workers_app.models import Worker, heartbeat_deadline
from workers_app.node_client import node_handoff_on_commit

pytestmark = pytest.mark.django_db

S = Session.Status


def _silence(worker):
    stale = timezone.now() - heartbeat_deadline() - timedelta(seconds=1)
    Worker.objects.filter(id=worker.id).update(last_heartbeat=stale)


START = SessionStart(session_id="ses_x", user_id=7, engine="sandbox")


def _start(session):
    return {
        "sessionId": session.id,
        "userId": session.owner_id,
        "engine": session.engine,
        "method": session.connect_method,
        "phoneNumber": None,
        "calls": None,
    }


# --- The wire: a handover is one chain, stop on the source, then start on the target --------


def test_handoff_publishes_the_stop_to_the_source_carrying_the_start_to_the_target(
    broker, node, django_capture_on_commit_callbacks
):
    source, target = node(), node()
    start = SessionStart(session_id="ses_x", user_id=7, engine="sandbox", method="qr")
    with django_capture_on_commit_callbacks(execute=True):
        node_handoff_on_commit(source_id=source.id, target_id=target.id, start=start)
    assert popped(broker, target.endpoint) == []  # the target starts only when the source says
    ((task, kwargs, embed),) = popped(broker, source.endpoint)
    assert (task, kwargs) == (
        "node_agent.tasks.session_stop",
        {"sessionId": "ses_x", "moved": True},
    )
    (link,) = embed["chain"]
    assert link["task"] == "node_agent.tasks.session_start"
    assert link["kwargs"] == {
        "sessionId": "ses_x",
        "userId": 7,
        "engine": "sandbox",
        "method": "qr",
        "phoneNumber": None,
        "calls": None,
    }
    assert link["options"]["queue"] == target.endpoint
    assert link["immutable"] is True  # the stop's result is not passed to the start


def test_handoff_is_published_only_after_commit(broker, node, django_capture_on_commit_callbacks):
    source, target = node(), node()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        node_handoff_on_commit(source_id=source.id, target_id=target.id, start=START)
    assert popped(broker, source.endpoint) == []
    assert len(callbacks) == 1


# --- A dead node ------------------------------------------------------------------------------


def test_dead_node_moves_shared_store_sessions_and_loses_the_rest(
    user, broker, node, django_capture_on_commit_callbacks
):
    dead = node(session_store=STORE)
    target = node(session_store=STORE)
    other_store = node(session_store="pg-other")
    connected = ConnectedSessionFactory(owner=user, worker=dead)
    reconnecting = ConnectedSessionFactory(owner=user, worker=dead, status=S.RECONNECTING)
    local = ConnectedSessionFactory(owner=user, worker=dead, session_store="")
    linking = SessionFactory(owner=user, worker=dead, status=S.QR_REQUIRED, qr_string="2@x")
    _silence(dead)

    with django_capture_on_commit_callbacks(execute=True):
        assert workers_mark_offline() == [dead.id]

    for session in (connected, reconnecting, local, linking):
        session.refresh_from_db()
    for moved in (connected, reconnecting):
        assert (moved.worker_id, moved.status, moved.status_reason) == (
            target.id,
            S.RECONNECTING,
            "node_moved",
        )
        assert moved.last_seen_at is not None
        assert moved.phone_number == "15550001111"  # the same linked device
    for lost in (local, linking):
        assert (lost.worker_id, lost.status, lost.status_reason) == (
            dead.id,
            S.DISCONNECTED,
            "node_lost",
        )
    # The dead node cannot stop anything: the target starts the sessions at once.
    started = popped(broker, target.endpoint)
    assert [(t, k) for t, k, _ in started] == [
        ("node_agent.tasks.session_start", _start(s)) for s in (connected, reconnecting)
    ]
    assert popped(broker, dead.endpoint) == []
    assert popped(broker, other_store.endpoint) == []
    moved_logs = SystemLog.objects.filter(event="session.moved", worker_id=target.id)
    assert set(moved_logs.values_list("session_id", flat=True)) == {connected.id, reconnecting.id}
    assert moved_logs.first().data["source"] == dead.id
    assert workers_mark_offline() == []


def test_moves_spread_over_targets_and_never_exceed_max_sessions(user, node):
    dead = node(session_store=STORE)
    small = node(session_store=STORE, max_sessions=2)
    large = node(session_store=STORE, max_sessions=3)
    ConnectedSessionFactory(owner=user, worker=small)
    sessions = [ConnectedSessionFactory(owner=user, worker=dead) for _ in range(5)]
    _silence(dead)

    workers_mark_offline()

    placed = Counter(Session.objects.filter(status_reason="node_moved").values_list("worker_id"))
    assert placed == {(small.id,): 1, (large.id,): 3}
    lost = Session.objects.filter(id__in=[s.id for s in sessions], status_reason="node_lost")
    assert lost.count() == 1
    for worker in (small, large):
        assert Session.objects.filter(worker=worker).count() == worker.max_sessions


def test_session_moves_only_to_a_node_of_its_store_with_its_engine(user, node):
    dead = node(session_store=STORE)
    node(session_store="pg-other")
    node(session_store="")
    node(session_store=STORE, engines=["whatsapp"])  # lacks the sandbox engine
    node(session_store=STORE, status=Worker.Status.DRAINING)
    _silence(node(session_store=STORE))  # silent: about to be lost too
    session = ConnectedSessionFactory(owner=user, worker=dead)
    _silence(dead)

    workers_mark_offline()

    session.refresh_from_db()
    assert (session.worker_id, session.status, session.status_reason) == (
        dead.id,
        S.DISCONNECTED,
        "node_lost",
    )


def test_move_away_counts_what_stayed(user, node):
    source = node(session_store=STORE)
    node(session_store=STORE)
    ConnectedSessionFactory(owner=user, worker=source)
    ConnectedSessionFactory(owner=user, worker=source, session_store="")
    SessionFactory(owner=user, worker=source, status=S.PAIRING)
    SessionFactory(owner=user, worker=source, status=S.DISCONNECTED)  # not running: not counted

    evacuation = sessions_move_away(worker_id=source.id, source_alive=True)

    assert len(evacuation.moved) == 1
    assert evacuation.stayed == 2


def test_session_on_its_way_to_a_live_node_is_not_handed_over_again(user, node):
    source = node(session_store=STORE)
    node(session_store=STORE)
    arriving = ConnectedSessionFactory(
        owner=user, worker=source, status=S.RECONNECTING, status_reason="node_moved"
    )
    evacuation = sessions_move_away(worker_id=source.id, source_alive=True)
    assert (evacuation.moved, evacuation.stayed) == ([], 1)
    # From a dead node it moves on, since nothing else will start it.
    evacuation = sessions_move_away(worker_id=source.id, source_alive=False)
    assert [m.session_id for m in evacuation.moved] == [arriving.id]


# --- After a move: reports, messages, timeouts --------------------------------------------------


def test_reports_of_the_former_node_are_ignored_and_the_new_node_takes_over(
    user, broker, node, django_capture_on_commit_callbacks
):
    dead = node(session_store=STORE)
    target = node(session_store=STORE)
    session = ConnectedSessionFactory(owner=user, worker=dead)
    message = OutboundMessageFactory(session=session)
    before_move = timezone.now()
    _silence(dead)
    workers_mark_offline()

    # A report the old node made before the move (no workerId): too old to apply.
    session_status_apply(
        session_id=session.id, status=S.DISCONNECTED, timestamp=before_move, reason="x"
    )
    # A later one with its workerId: not its session any more.
    later = timezone.now() + timedelta(seconds=1)
    stale = session_status_apply(
        session_id=session.id, status=S.LOGGED_OUT, timestamp=later, worker_id=dead.id
    )
    assert stale.worker_id == target.id
    session.refresh_from_db()
    assert (session.status, session.session_store) == (S.RECONNECTING, STORE)

    session_status_apply(
        session_id=session.id, status=S.CONNECTED, timestamp=later, worker_id=target.id
    )
    session.refresh_from_db()
    assert (session.status, session.status_reason, session.worker_id) == (
        S.CONNECTED,
        "",
        target.id,
    )
    # The message the old node dropped goes to the new node with the next republish.
    OutboundMessage.objects.filter(id=message.id).update(
        updated_at=timezone.now() - timedelta(seconds=django_settings.MESSAGE_REQUEUE_AFTER_S + 1)
    )
    popped(broker, target.endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_republish() == 1
    ((task, kwargs, _),) = popped(broker, target.endpoint)
    assert (task, kwargs["messageId"]) == ("node_agent.tasks.message_send", message.id)
    assert popped(broker, dead.endpoint) == []


def test_move_stuck_past_the_start_timeout_fails(user, node):
    target = node(session_store=STORE)
    stuck = ConnectedSessionFactory(
        owner=user, worker=target, status=S.RECONNECTING, status_reason="node_moved"
    )
    recent = ConnectedSessionFactory(
        owner=user, worker=target, status=S.RECONNECTING, status_reason="node_moved"
    )
    retrying = ConnectedSessionFactory(
        owner=user, worker=target, status=S.RECONNECTING, status_reason="connection_lost"
    )
    long_ago = timezone.now() - timedelta(seconds=django_settings.SESSION_START_TIMEOUT_S + 1)
    Session.objects.filter(id__in=[stuck.id, retrying.id]).update(status_changed_at=long_ago)

    assert sessions_fail_stalled() == 1

    for session in (stuck, recent, retrying):
        session.refresh_from_db()
    assert (stuck.status, stuck.status_reason) == (S.FAILED, "start_timeout")
    assert stuck.session_store == STORE  # connecting again resumes it from the store
    assert (recent.status, retrying.status) == (S.RECONNECTING, S.RECONNECTING)


# --- Handovers that cannot finish ---------------------------------------------------------------


def test_a_handover_expires_with_the_start_timeout(
    broker, node, django_capture_on_commit_callbacks
):
    source, target = node(), node()
    with django_capture_on_commit_callbacks(execute=True):
        node_handoff_on_commit(source_id=source.id, target_id=target.id, start=START)
    ((headers, _kwargs, embed),) = popped_with_headers(broker, source.endpoint)
    # A source that was down longer discards the stop, so it never replays an old handover.
    expires = datetime.fromisoformat(headers["expires"])
    left_s = (expires - timezone.now()).total_seconds()
    assert django_settings.SESSION_START_TIMEOUT_S - 30 < left_s
    assert left_s <= django_settings.SESSION_START_TIMEOUT_S
    (link,) = embed["chain"]
    assert link["options"]["expires"] == django_settings.SESSION_START_TIMEOUT_S


def test_a_handover_whose_source_dies_first_starts_on_the_target(
    user, broker, node, django_capture_on_commit_callbacks
):
    source = node(session_store=STORE)
    target = node(session_store=STORE)
    session = ConnectedSessionFactory(owner=user, worker=source)
    with django_capture_on_commit_callbacks(execute=True):
        evacuation = sessions_move_away(worker_id=source.id, source_alive=True)
    assert [m.target for m in evacuation.moved] == [target.id]
    session.refresh_from_db()
    assert (session.worker_id, session.moved_from) == (target.id, source.id)
    assert [t for t, _k, _e in popped(broker, source.endpoint)] == ["node_agent.tasks.session_stop"]
    assert popped(broker, target.endpoint) == []  # waits for the source, which dies now

    _silence(source)
    with django_capture_on_commit_callbacks(execute=True):
        assert workers_mark_offline() == [source.id]

    session.refresh_from_db()
    assert (session.worker_id, session.status, session.status_reason, session.moved_from) == (
        target.id,
        S.RECONNECTING,
        "node_moved",
        "",
    )
    started = popped(broker, target.endpoint)
    assert [(t, k) for t, k, _ in started] == [("node_agent.tasks.session_start", _start(session))]


def test_sessions_of_a_node_stopped_for_good_move_but_user_stopped_ones_stay(
    user, broker, node, django_capture_on_commit_callbacks
):
    dead = node(session_store=STORE)
    target = node(session_store=STORE)
    shut_down = ConnectedSessionFactory(
        owner=user, worker=dead, status=S.DISCONNECTED, status_reason="node_shutdown"
    )
    by_user = ConnectedSessionFactory(
        owner=user, worker=dead, status=S.DISCONNECTED, status_reason="disconnected_by_user"
    )
    _silence(dead)

    with django_capture_on_commit_callbacks(execute=True):
        assert workers_mark_offline() == [dead.id]

    shut_down.refresh_from_db()
    by_user.refresh_from_db()
    assert (shut_down.worker_id, shut_down.status) == (target.id, S.RECONNECTING)
    assert (by_user.worker_id, by_user.status, by_user.status_reason) == (
        dead.id,
        S.DISCONNECTED,
        "disconnected_by_user",
    )
    started = popped(broker, target.endpoint)
    assert [k["sessionId"] for _t, k, _e in started] == [shut_down.id]


def test_deleting_a_session_tells_every_node_it_may_have_run_on(
    user, broker, node, django_capture_on_commit_callbacks
):
    current, former, other = node(), node(), node()
    session = ConnectedSessionFactory(owner=user, worker=current)

    with django_capture_on_commit_callbacks(execute=True):
        session_delete(owner=user, session=session)

    assert not Session.objects.filter(id=session.id).exists()
    for worker in (current, former, other):
        tasks = [(t, k) for t, k, _e in popped(broker, worker.endpoint)]
        assert tasks == [("node_agent.tasks.session_delete", {"sessionId": session.id})]
