"""Reachability checks the services report on ``/healthz``.

A health check must answer even when what it checks does not: a hung Redis or database
(stopped, partitioned) accepts a connection and never replies, and a check that waits on it
would hold the probe (and, under a sync server, the worker) until the caller gives up. So
each check runs on a thread of its own, all of them at once, and the answer is given after
at most ``CHECK_TIMEOUT`` seconds: a check still running by then is reported as down.

At most one check per target runs at a time in a process: a probe that arrives while the
previous check of the same target is still stuck shares it instead of starting another
thread, so a long outage cannot pile up threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from sqlalchemy import Engine, text

from shared.redisurl import client as redis_client

CHECK_TIMEOUT = 1.0


def check_database(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def check_redis(redis_url: str, timeout: float = CHECK_TIMEOUT) -> str:
    try:
        # No retries: redis-py's default of three with backoff would outlast the probe.
        with redis_client(redis_url, timeout=timeout, retries=0) as conn:
            conn.ping()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


class _Probe:
    """One target's check, at most one running at a time."""

    def __init__(self, check: Callable[[], str]) -> None:
        self.check = check
        self.lock = threading.Lock()
        self.future: Future[str] | None = None
        self.started = 0.0

    def start(self) -> tuple[Future[str], float]:
        """The running check (a new one if none is), and when it started."""
        with self.lock:
            if self.future is None or self.future.done():
                self.future, self.started = Future(), time.monotonic()
                threading.Thread(
                    target=self._run, args=(self.future,), daemon=True, name="healthz"
                ).start()
            return self.future, self.started

    def _run(self, future: Future[str]) -> None:
        try:
            future.set_result(self.check())
        except BaseException as exc:  # a check returns errors as values; this is a bug
            future.set_result(f"error: {type(exc).__name__}")


_probes: dict[tuple[str, str], _Probe] = {}
_probes_lock = threading.Lock()


def _probe(name: str, target: str, check: Callable[[], str]) -> _Probe:
    with _probes_lock:
        return _probes.setdefault((name, target), _Probe(check))


def _outcome(future: Future[str], started: float, timeout: float) -> str:
    wait = started + timeout - time.monotonic()
    try:
        return future.result(timeout=max(wait, 0.0))
    except TimeoutError:
        return f"error: no answer within {timeout:g}s"


def report(
    engine: Engine, redis_url: str, timeout: float = CHECK_TIMEOUT
) -> tuple[dict[str, str], int]:
    """``({"status", "database", "redis"}, 200 or 503)`` within about ``timeout`` seconds."""
    running = {
        "database": _probe(
            "database", f"{id(engine)}:{engine.url}", lambda: check_database(engine)
        ).start(),
        "redis": _probe("redis", redis_url, lambda: check_redis(redis_url, timeout)).start(),
    }
    checks = {name: _outcome(fut, started, timeout) for name, (fut, started) in running.items()}
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "degraded", **checks}, 200 if ok else 503
