import pytest

from tests.factories import WorkerFactory


@pytest.fixture
def node(broker):
    """Make nodes whose broker queues are emptied when the test ends."""
    made = []

    def make(**fields):
        worker = WorkerFactory(**fields)
        made.append(worker)
        broker.clear(worker.endpoint)
        return worker

    yield make
    for worker in made:
        broker.clear(worker.endpoint)
