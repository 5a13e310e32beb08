"""Sending tasks by name without ever waiting long on the broker.

A Redis that hangs (stopped, partitioned, swapping) accepts TCP connections into the
kernel's backlog and never answers, so a send waits for socket timeouts, and kombu adds a
reconnect on top (measured: 2 s on a pooled connection, 4 s on a new one, with the former
``SENDER_CONF``). Two things bound that here, for every service that sends:

* ``BoundedSender`` runs each send on one thread of its own and waits for it at most
  ``deadline`` seconds: a hard bound on the caller, whatever the library does inside. The
  thread is also the only one that ever touches the Celery client, which is not thread-safe.
* ``CircuitBreaker``: after a send that failed or overran its deadline, sends are refused at
  once for ``cooldown`` seconds, so a hung broker costs one caller one deadline per cooldown
  instead of every caller a deadline each.

Nothing here imports Celery: ``TaskSender`` is given the service's Celery app.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from shared.tasknames import TASK_QUEUES


class Sender(Protocol):
    # ``headers``: message headers the worker reads (a request id: render.observe).
    def __call__(
        self, task: str, args: list, eta: str | None = None, headers: dict | None = None
    ) -> None: ...


class BrokerUnavailable(ConnectionError):
    """The send was not attempted or did not finish in time; the caller keeps the work."""


class TaskSender:
    """Sends a task by name on its queue through an injected Celery app (``app.send_task``).

    ``retry=False``: a failure is reported at once; keeping and resending the work is the
    caller's (the outbox relay's, or the hub's subscriber's) job.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(
        self, task: str, args: list, eta: str | None = None, headers: dict | None = None
    ) -> None:
        self.app.send_task(
            task, args=args, eta=eta, queue=TASK_QUEUES[task], retry=False, headers=headers
        )


class CircuitBreaker:
    """Closed until a send fails; then open (sends refused) for ``cooldown`` seconds.

    After the cooldown the next sends are let through as trials: the first success closes
    it, a failure opens it again. Each trial is bounded by the sender's deadline.
    """

    def __init__(self, cooldown: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allows(self) -> bool:
        with self._lock:
            return self.clock() >= self._open_until

    def failed(self) -> None:
        with self._lock:
            self._open_until = self.clock() + self.cooldown

    def succeeded(self) -> None:
        with self._lock:
            self._open_until = 0.0


class BoundedSender:
    """A ``Sender`` that answers within ``deadline`` seconds, or raises ``BrokerUnavailable``.

    A send that overran is left to finish on its thread (a socket call cannot be interrupted
    from outside; the socket timeouts in ``SENDER_CONF`` end it). If it did reach the broker
    after all, the caller, told it failed, sends again later: a duplicate that the tasks'
    idempotence per (article id, version) makes harmless; a loss would not be.
    """

    def __init__(
        self, send: Sender, deadline: float, breaker: CircuitBreaker | None = None
    ) -> None:
        self.send = send
        self.deadline = deadline
        self.breaker = breaker or CircuitBreaker(cooldown=0.0)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._lock = threading.Lock()

    def available(self) -> bool:
        """False while the breaker is open: a send now would be refused at once."""
        return self.breaker.allows()

    def __call__(
        self, task: str, args: list, eta: str | None = None, headers: dict | None = None
    ) -> None:
        if not self.breaker.allows():
            raise BrokerUnavailable("the broker failed recently; not trying again yet")
        future = self._executor().submit(self.send, task, args, eta, headers)
        try:
            future.result(timeout=self.deadline)
        except FutureTimeout:
            future.cancel()  # if it is still queued behind a stuck send, it never starts
            self.breaker.failed()
            raise BrokerUnavailable(f"no answer from the broker within {self.deadline}s") from None
        except Exception:
            self.breaker.failed()
            raise
        self.breaker.succeeded()

    def _executor(self) -> ThreadPoolExecutor:
        # Made on first use in each process: a server that forks its workers after loading
        # the app must give each worker a thread of its own (threads do not survive a fork).
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="broker-send")
                self._pool_pid = os.getpid()
            return self._pool
