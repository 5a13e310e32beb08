"""Counting HTTP answers: a WSGI layer outside everything else (the feed's fast path included).

The route label is the template the app matched (Flask's rule, which the service's
``observe`` hook leaves in ``environ[ROUTE_KEY]``), never the raw path: a client cannot make
new series. A request that never reached the app's router (the feed's fast path answered it)
is labelled by ``default_route``; one the router matched to nothing, ``unmatched``.

Counts are kept in plain dicts per process and added to the Prometheus values (memory-mapped
files in multiprocess mode, a lock and a write per increment) by a flusher thread once a
``FLUSH_S``: per request that is two clock reads, a bisect and three dict updates, where three
increments of memory-mapped values cost 4.5 µs, as much again as the whole fast path's answer
(docs/benchmarks.md, Serving: metrics). A scrape therefore lags by up to ``FLUSH_S``; a
process killed by SIGKILL loses at most its last ``FLUSH_S`` of counts.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from time import perf_counter

from shared.metrics import HTTP_BUCKETS, HTTP_DURATION, HTTP_REQUESTS

ROUTE_KEY = "newsflow.route"
UNMATCHED = "unmatched"
FLUSH_S = 1.0
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MISSING = object()
_MAX_KEYS = 4096  # routes x methods x statuses is far fewer; a guard all the same


class HttpMetrics:
    def __init__(self, app: Callable, default_route: Callable[[str], str] | None = None) -> None:
        self.app = app
        self.default_route = default_route or (lambda path: UNMATCHED)
        # (route, method, status, bucket index) -> [count, sum of seconds] since the last flush
        self._tally: dict[tuple[str, str, str, int], list] = {}
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        # A server that forks its workers after loading the app: each child starts its own
        # flusher (threads do not survive a fork) and drops the parent's counts, which the
        # parent flushes itself. Checked at fork time, not per request (getpid is a syscall).
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._tally = {}
        self._flusher = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = perf_counter()
        status = ["000"]

        def _start_response(line, headers, *exc_info):
            status[0] = line[:3]
            return start_response(line, headers, *exc_info)

        try:
            return self.app(environ, _start_response)
        finally:
            self._count(environ, status[0], perf_counter() - started)

    def _count(self, environ: dict, status: str, elapsed: float) -> None:
        route = environ.get(ROUTE_KEY, _MISSING)
        if route is _MISSING:
            route = self.default_route(environ.get("PATH_INFO", ""))
        elif route is None:
            route = UNMATCHED
        key = (route, environ.get("REQUEST_METHOD", ""), status, bisect_left(HTTP_BUCKETS, elapsed))
        with self._lock:
            if self._flusher is None:
                self._start_flusher()
            seen = self._tally.get(key)
            if seen is not None:
                seen[0] += 1
                seen[1] += elapsed
            elif len(self._tally) < _MAX_KEYS:
                self._tally[key] = [1, elapsed]

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(
            target=self._flush_forever, name="http-metrics", daemon=True
        )
        self._flusher.start()
        atexit.register(self.flush)

    def _flush_forever(self) -> None:
        me = threading.current_thread()
        while self._flusher is me:
            time.sleep(FLUSH_S)
            self.flush()

    def flush(self) -> None:
        """Add the counts so far to the Prometheus values."""
        with self._lock:
            tally, self._tally = self._tally, {}
        for (route, method, status, index), (n, seconds) in tally.items():
            HTTP_REQUESTS.labels(route, method if method in _METHODS else "other", status).inc(n)
            child = HTTP_DURATION.labels(route)
            _observe_many(child, index, n, seconds)


def _observe_many(child, index: int, n: int, seconds: float) -> None:
    """``n`` observations in bucket ``index`` that add up to ``seconds``.

    prometheus_client has no public call for this; its Histogram keeps one value per bucket
    (``_buckets``, not cumulative: the count is derived from them at exposition) and
    ``_sum``. tests/shared/test_httpmetrics.py proves the exposition matches ``observe``."""
    child._buckets[index].inc(n)
    child._sum.inc(seconds)
