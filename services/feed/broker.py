"""A Celery *client* for the feed service: it only sends tasks by name, it defines none.

The feed service sends one kind of task: the verification of a WebSub (un)subscription
request, which the worker carries out. A hub request must fail fast when Redis is away
(the subscriber gets a 503 and tries again), so a slow broker never holds up a request.
"""

from __future__ import annotations

from typing import Protocol

from celery import Celery

from shared.tasknames import SENDER_CONF, TASK_QUEUES


class Sender(Protocol):
    def __call__(self, task: str, args: list) -> None: ...


def make_celery_client(redis_url: str) -> Celery:
    app = Celery("newsflow-feed", broker=redis_url, set_as_current=False)
    app.conf.update(SENDER_CONF)
    return app


class CelerySender:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def __call__(self, task: str, args: list) -> None:
        self.app.send_task(task, args=args, queue=TASK_QUEUES[task], retry=False)
