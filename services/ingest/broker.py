"""A Celery *client* for ingest: it only sends tasks by name, it defines none.

Publishing must fail fast when Redis is away: the outbox keeps the row and the relay tries
again, so a slow broker never holds up a request.
"""

from __future__ import annotations

from typing import Protocol

from celery import Celery

from shared.tasknames import SENDER_CONF, TASK_QUEUES


class Sender(Protocol):
    def __call__(self, task: str, args: list, eta: str | None = None) -> None: ...


def make_celery_client(redis_url: str) -> Celery:
    app = Celery("newsflow-ingest", broker=redis_url, set_as_current=False)
    app.conf.update(SENDER_CONF)
    return app


class CelerySender:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def __call__(self, task: str, args: list, eta: str | None = None) -> None:
        self.app.send_task(task, args=args, eta=eta, queue=TASK_QUEUES[task], retry=False)
