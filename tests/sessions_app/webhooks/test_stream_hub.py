"""The event stream's hub against the real database: new events reach the subscribers that want
them, once; an event committed late (behind the hub's position) still comes; a slow subscriber
is told to resume rather than dropped silently. The HTTP side: tests/e2e/test_stream.py."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from sessions_app.webhooks.models import WebhookEvent
from sessions_app.webhooks.stream.hub import OVERFLOW, Hub, Subscriber

pytestmark = pytest.mark.django_db(transaction=True)


def _event(owner, n, *, type_="message.received", session_id="ses_a", created_at=None):
    return WebhookEvent.objects.create(
        id=f"evt_{n:04d}",
        owner=owner,
        session_id=session_id,
        type=type_,
        dedupe_key=f"k{n}",
        payload={"id": f"evt_{n:04d}", "type": type_},
        created_at=created_at or timezone.now(),
    )


async def _drain(subscriber, count, timeout_s=10.0):
    got = []
    async with asyncio.timeout(timeout_s):
        while len(got) < count:
            got.append(await subscriber.queue.get())
    return got


def test_events_reach_who_wants_them_once_late_ones_too(user, other_user, settings):
    settings.STREAM_POLL_S = 0.02

    async def scenario():
        hub = Hub()
        everything = Subscriber(owner_id=user.id, session_id=None, types=["*"])
        one_session = Subscriber(owner_id=user.id, session_id="ses_b", types=["*"])
        statuses = Subscriber(owner_id=user.id, session_id=None, types=["message.status"])
        for subscriber in (everything, one_session, statuses):
            await hub.subscribe(subscriber)
        await sync_to_async(_event)(user, 1)
        await sync_to_async(_event)(user, 2, session_id="ses_b", type_="message.status")
        await sync_to_async(_event)(other_user, 3)  # another owner's
        # committed now, stamped a second ago: behind the hub's position once it read 1 and 2
        got = await _drain(everything, 2)
        late = timezone.now() - timedelta(seconds=1)
        await sync_to_async(_event)(user, 4, created_at=late)
        got += await _drain(everything, 1)
        await asyncio.sleep(0.3)  # more polls: nothing comes twice
        assert everything.queue.empty()
        assert [row["id"] for row in got] == ["evt_0001", "evt_0002", "evt_0004"]
        assert [row["id"] for row in await _drain(one_session, 1)] == ["evt_0002"]
        assert [row["id"] for row in await _drain(statuses, 1)] == ["evt_0002"]
        assert one_session.queue.empty()
        hub._task.cancel()
        await sync_to_async(connections.close_all)()  # the hub's thread's connection

    asyncio.run(scenario())


def test_a_subscriber_that_falls_behind_is_told_to_resume(user, settings):
    settings.STREAM_POLL_S = 0.02
    settings.STREAM_QUEUE_MAX = 3

    async def scenario():
        hub = Hub()
        slow = Subscriber(owner_id=user.id, session_id=None, types=["*"])
        await hub.subscribe(slow)
        for n in range(5):
            await sync_to_async(_event)(user, n)
        got = await _drain(slow, 4)
        assert got[-1] is OVERFLOW
        assert [row["id"] for row in got[:3]] == ["evt_0000", "evt_0001", "evt_0002"]
        assert hub.count(user.id) == 0  # it gets nothing more: its stream ends
        hub._task.cancel()
        await sync_to_async(connections.close_all)()  # the hub's thread's connection

    asyncio.run(scenario())


def test_the_first_client_of_a_user_is_told_to_wait_for_the_watch_to_spread(settings):
    settings.STREAM_POLL_S = 0.02
    # An owner id of its own: the watch flag lives in the cache every test process shares.
    owner_id = 10**9 + uuid.uuid4().int % 10**9

    async def scenario():
        hub = Hub()
        first = Subscriber(owner_id=owner_id, session_id=None, types=["*"])
        second = Subscriber(owner_id=owner_id, session_id=None, types=["*"])
        # Nobody watched: the processes storing events may not see it for MEMO_S yet.
        assert await hub.subscribe(first) is True
        assert await hub.subscribe(second) is False
        hub._task.cancel()
        await sync_to_async(connections.close_all)()

    asyncio.run(scenario())
