"""factory_boy factories for the gateway's models."""

import functools
import uuid

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import User
from sessions_app.messages.models import OutboundMessage
from sessions_app.sessions.models import Session
from workers_app.models import Worker

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    """Return one hash of PASSWORD, made once per run and shared by every test user.

    It is PBKDF2 with the test hasher's few iterations (tests/hashers.py), which the gunicorn of
    an end-to-end test verifies with Django's own hasher.
    """
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.LazyFunction(password_hash)
    email_verified_at = factory.LazyFunction(timezone.now)


class WorkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Worker
        django_get_or_create = ("id",)

    # Random, not a sequence: concurrent test runs share the Redis broker's queue names.
    id = factory.LazyFunction(lambda: f"node-{uuid.uuid4().hex[:10]}")
    endpoint = factory.LazyAttribute(lambda w: f"node.{w.id}")
    status = Worker.Status.ONLINE
    max_sessions = 10
    engines = factory.LazyFunction(lambda: ["sandbox", "whatsapp"])
    last_heartbeat = factory.LazyFunction(timezone.now)


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"session {n}")
    engine = Session.Engine.SANDBOX


class ConnectedSessionFactory(SessionFactory):
    worker = factory.SubFactory(WorkerFactory)
    status = Session.Status.CONNECTED
    connect_method = "qr"
    phone_number = "15550001111"
    jid = "15550001111@s.whatsapp.net"
    # Where its login is, as a CONNECTED report records it: its node's shared store, if any.
    session_store = factory.LazyAttribute(lambda s: s.worker.session_store if s.worker else "")


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboundMessage

    session = factory.SubFactory(ConnectedSessionFactory)
    owner = factory.LazyAttribute(lambda m: m.session.owner)
    to = "6281200000001"
    chat_jid = "6281200000001@s.whatsapp.net"
    payload = factory.LazyAttribute(
        lambda m: {"to": m.to, "chatId": m.chat_jid, "type": "text", "text": "hi"}
    )
