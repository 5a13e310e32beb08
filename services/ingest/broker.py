"""A Celery *client* for ingest: it only sends tasks by name, it defines none.

The sender itself is shared with the feed service (``shared.sending``): a send is bounded in
time and guarded by a circuit breaker, so a hung or dead Redis never holds up a request; the
outbox keeps the row and the relay sends it later.
"""

from __future__ import annotations

from celery import Celery

from shared.sending import BoundedSender, CircuitBreaker, Sender, TaskSender
from shared.tasknames import SENDER_CONF

__all__ = ["Sender", "make_celery_client", "relay_sender", "request_sender"]

# The send after commit (ingest.relay.AfterCommit) waits at most this long for the broker. A
# healthy send takes about a millisecond; on a hung broker the first send overruns, the
# breaker opens, and for the cooldown every row is left to the relay without a try.
REQUEST_DEADLINE = 0.5
REQUEST_COOLDOWN = 5.0
# The relay has nobody waiting on it: a longer deadline than the socket timeout (1 s), so a
# slow broker still gets its answer, and no breaker: its own backoff, capped at a second, makes
# it resume as soon as the broker answers again.
RELAY_DEADLINE = 2.0


def make_celery_client(redis_url: str) -> Celery:
    app = Celery("newsflow-ingest", broker=redis_url, set_as_current=False)
    app.conf.update(SENDER_CONF)
    return app


def request_sender(app: Celery) -> BoundedSender:
    return BoundedSender(TaskSender(app), REQUEST_DEADLINE, CircuitBreaker(REQUEST_COOLDOWN))


def relay_sender(app: Celery) -> BoundedSender:
    return BoundedSender(TaskSender(app), RELAY_DEADLINE)
