"""Every queue a task is routed to has a worker consuming it, and every task name is known."""

from __future__ import annotations

import pytest

from render.app import create_app
from shared.tasknames import ALL_QUEUES, TASK_QUEUES

pytestmark = pytest.mark.e2e


@pytest.fixture
def inspect(stack):
    # A connection of its own: kombu's pool may still hold one from before a Redis restart.
    app = create_app(stack.settings)
    with app.connection_for_write() as conn:
        yield app.control.inspect(timeout=5, connection=conn)


def test_every_queue_has_a_worker(inspect):
    active = inspect.active_queues()
    assert active, "no worker answered"
    consumed = {q["name"] for queues in active.values() for q in queues}
    assert set(ALL_QUEUES) <= consumed
    assert set(TASK_QUEUES.values()) <= consumed


def test_every_task_name_is_registered_in_the_worker(inspect):
    registered = {name.split(" ")[0] for names in inspect.registered().values() for name in names}
    assert set(TASK_QUEUES) <= registered


def test_the_worker_accepts_only_json(stack):
    app = create_app(stack.settings)
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
