"""A Celery *client* for the feed service: it only sends tasks by name, it defines none.

The feed service sends one kind of task: the verification of a WebSub (un)subscription
request, which the worker carries out. A hub request must fail fast when Redis is away
(the subscriber gets a 503 and tries again), so a slow broker never holds up a request.
"""

from __future__ import annotations

from typing import Protocol

from celery import Celery

from shared.tasknames import TASK_QUEUES


class Sender(Protocol):
    def __call__(self, task: str, args: list) -> None: ...


def make_celery_client(redis_url: str) -> Celery:
    app = Celery("newsflow-feed", broker=redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
        # kombu retries a connection per these options before send_task sees an error; keep
        # that to one quick retry (its default waits about six seconds).
        broker_transport_options={
            "socket_connect_timeout": 1,
            "socket_timeout": 2,
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.1,
            "interval_max": 0.1,
        },
        task_routes={name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
    )
    return app


class CelerySender:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def __call__(self, task: str, args: list) -> None:
        self.app.send_task(task, args=args, queue=TASK_QUEUES[task], retry=False)
