"""A Celery *client* for the feed service: it only sends tasks by name, it defines none.

The feed service sends one kind of task: the verification of a WebSub (un)subscription
request, which the worker carries out. A hub request must fail fast when Redis is away or
hung (the subscriber gets a 503 and tries again), so the sender is ingest's bounded one from
``shared.sending``: an answer within ``HUB_DEADLINE``, and after a failure the breaker
refuses at once for ``HUB_COOLDOWN`` seconds.
"""

from __future__ import annotations

from celery import Celery

from shared.sending import BoundedSender, CircuitBreaker, Sender, TaskSender
from shared.tasknames import SENDER_CONF

__all__ = ["CelerySender", "Sender", "make_celery_client"]

HUB_DEADLINE = 0.5
HUB_COOLDOWN = 5.0


def make_celery_client(redis_url: str) -> Celery:
    app = Celery("newsflow-feed", broker=redis_url, set_as_current=False)
    app.conf.update(SENDER_CONF)
    return app


class CelerySender(BoundedSender):
    """The hub's sender: the shared bounded sender on the feed's own Celery client."""

    def __init__(self, app: Celery) -> None:
        super().__init__(TaskSender(app), HUB_DEADLINE, CircuitBreaker(HUB_COOLDOWN))
