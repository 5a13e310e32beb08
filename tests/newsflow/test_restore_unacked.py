"""A task a dead worker had taken (acks_late: still unacknowledged) is queued again before the
next worker starts, instead of after the broker's visibility timeout (real Redis)."""

from __future__ import annotations

import subprocess
import sys
import uuid

from celery import Celery

from newsflow.launcher import restore_unacked
from shared.redisurl import client as redis_client

TAKER = """
import os, sys
from celery import Celery
from kombu import Queue
app = Celery(broker=sys.argv[1], set_as_current=False)
app.conf.accept_content = ["json"]
conn = app.connection_for_write()
simple = conn.SimpleQueue(Queue(sys.argv[2], routing_key=sys.argv[2]), no_ack=False)
simple.get(timeout=5)
os._exit(0)  # as a killed worker: no ack, and no clean close that would give it back
"""


def take_without_ack(redis_url: str, queue: str) -> None:
    """Consume one message the way the worker does (acknowledge later), then die."""
    run = subprocess.run([sys.executable, "-c", TAKER, redis_url, queue], timeout=30)
    assert run.returncode == 0


def send(redis_url: str, queue: str) -> None:
    app = Celery(broker=redis_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"])
    app.send_task("newsflow.test.nothing", args=[1], queue=queue)


def test_a_task_taken_and_never_acked_is_queued_again(redis_srv):
    url = redis_srv.url.replace("/0", "/3")
    queue = f"restore-{uuid.uuid4().hex[:8]}"
    r = redis_client(url)
    send(url, queue)
    take_without_ack(url, queue)
    assert r.llen(queue) == 0
    assert r.hlen("unacked") >= 1
    assert restore_unacked(url) >= 1
    assert r.llen(queue) == 1
    assert r.zcard("unacked_index") == 0


def test_nothing_to_restore_is_nothing(redis_srv):
    url = redis_srv.url.replace("/0", "/4")
    assert restore_unacked(url) == 0
