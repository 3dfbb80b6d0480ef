"""The embedded broker under several processes at once: every message once, whole, none lost.

Publishers and consumers are separate processes on one broker folder, as `make run`'s web
process, backend worker and node agent are. kombu's own filesystem transport let a reader take a
message file its publisher was still writing (celery/kombu#1551): the reader got an empty or cut
body and Celery stopped with `JSONDecodeError`.
"""

from __future__ import annotations

import json
import multiprocessing
import queue as queue_module
import time

import pytest
from celery import Celery
from kombu import Connection

from node_agent.broker import broker_settings, result_backend_url

PUBLISHERS = 3
CONSUMERS = 3
PER_PUBLISHER = 1500
QUEUE = "node.race"
# A body of some size makes a write take long enough for a reader to meet it half done.
PADDING = "x" * 32_000


def _connection(folder: str) -> Connection:
    settings = broker_settings("filesystem://", folder=folder)
    return Connection(
        settings["broker_url"],
        transport=settings.get("broker_transport"),
        transport_options=settings["broker_transport_options"],
    )


def _publish(folder: str, publisher: int) -> None:
    with _connection(folder) as conn:
        producer = conn.Producer(serializer="json")
        for n in range(PER_PUBLISHER):
            producer.publish(
                {"p": publisher, "n": n, "pad": PADDING}, routing_key=QUEUE, declare=[]
            )


def _consume(folder: str, stop: multiprocessing.Event, results: multiprocessing.Queue) -> None:
    got, errors = [], []
    with _connection(folder) as conn:
        channel = conn.default_channel
        while True:
            try:
                message = channel.basic_get(QUEUE, no_ack=True)
            except Exception as exc:  # what Celery would die of
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if message is None:
                if stop.is_set():
                    break
                time.sleep(0.002)
                continue
            try:
                body = json.loads(message.body)
                got.append((body["p"], body["n"]))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
    results.put((got, errors))


def test_many_processes_publishing_and_consuming_get_every_message_once_and_whole(tmp_path):
    folder = str(tmp_path / "broker")
    with _connection(folder) as conn:  # declare the queue once, as a worker would
        conn.SimpleQueue(QUEUE).close()
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    consumers = [
        context.Process(target=_consume, args=(folder, stop, results)) for _ in range(CONSUMERS)
    ]
    publishers = [context.Process(target=_publish, args=(folder, p)) for p in range(PUBLISHERS)]
    for process in consumers + publishers:
        process.start()
    for process in publishers:
        process.join(120)
    stop.set()
    got, errors = [], []
    for _ in consumers:
        try:
            part, part_errors = results.get(timeout=120)
        except queue_module.Empty:
            pytest.fail("a consumer never finished")
        got += part
        errors += part_errors
    for process in consumers:
        process.join(10)
    assert errors == [], f"{len(errors)} errors, first: {errors[:3]}"
    expected = {(p, n) for p in range(PUBLISHERS) for n in range(PER_PUBLISHER)}
    assert len(got) == len(set(got)), "a message was delivered twice"
    assert set(got) == expected, f"{len(expected - set(got))} messages lost"


def _write_results(url: str, rounds: int) -> None:
    backend = _results(url)
    for n in range(rounds):
        backend.set(b"celery-task-meta-race", json.dumps({"n": n, "pad": PADDING}).encode())


def _results(url: str):
    app = Celery(set_as_current=False)  # a bare app: only its result store is used
    app.conf.result_backend = result_backend_url(url)
    return app.backend


def test_a_node_answer_is_never_read_half_written(tmp_path):
    """The backend polls the file of an RPC answer while the node writes it (history, checks)."""
    url = f"file://{tmp_path / 'results'}"
    reader = _results(url)
    writer = multiprocessing.get_context("spawn").Process(target=_write_results, args=(url, 3000))
    writer.start()
    seen, broken = 0, []
    while writer.is_alive() or not seen:
        raw = reader.get(b"celery-task-meta-race")
        if raw is None:
            continue
        try:
            json.loads(raw)
            seen += 1
        except ValueError:
            broken.append(raw[:40])
    writer.join(60)
    assert seen
    assert broken == [], f"{len(broken)} half-written answers read"
