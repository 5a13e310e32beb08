"""Logs and metrics of the worker, through Celery's signals (docs/operations.md, "Logs" and
"Metrics").

Logs: the worker logs through ``shared.logs`` (``setup_logging`` replaces Celery's own
setup). While a task runs, every line names its task, task id, request id and, for an
article's task, the article and version. The request id and the ingest time arrive in the
message headers (the relay put them there, from the outbox row) and go on in the headers of
every task this one sends (``before_task_publish``), so the page, the feed rebuild and the
WebSub notification of an article carry the id of the request that made it.

Metrics: tasks by name and final state, their run time, the time from ingest to published,
and WebSub delivery outcomes, counted in the pool processes (multiprocess mode, each writes
its own files in ``PROMETHEUS_MULTIPROC_DIR``). The worker's master serves them, with the
queue depths and the outbox backlog read at scrape time (``Backlog``), on a small HTTP
endpoint of its own (``WORKER_METRICS_HOST``:``WORKER_METRICS_PORT``, 127.0.0.1:8003 by
default; the same access rule as the web services' /metrics). A separate endpoint rather
than the feed's or ingest's /metrics: the worker runs on other hosts, with its own
multiprocess directory that the web services cannot see.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from contextvars import ContextVar
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery import Celery, Task, signals
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from shared import logs, metrics
from shared.models import OutboxRow, utcnow
from shared.tasknames import ALL_QUEUES, ARTICLE_TASKS

log = logging.getLogger(__name__)

# Headers a task hands on to the tasks it sends.
CARRIED = ("request_id", "ingested_at")
_carried: ContextVar[dict] = ContextVar("newsflow_carried_headers", default={})  # noqa: B039
# task id -> (log context token, carried-headers token, start time), in the pool process.
_running: dict[str, tuple] = {}
STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


def _headers_of(task: Task) -> dict:
    """The carried headers of the running task, checked: anyone who can write to Redis can
    put anything there, and a bad value is dropped, never logged."""
    out: dict = {}
    rid = task.request.get("request_id")
    if isinstance(rid, str) and logs.valid_request_id(rid):
        out["request_id"] = rid
    at = task.request.get("ingested_at")
    if isinstance(at, int | float) and math.isfinite(at):
        out["ingested_at"] = float(at)
    return out


def task_started(task_id: str, task: Task, args: tuple | list) -> None:
    carried = _headers_of(task)
    fields = {"task": task.name, "task_id": task_id, "request_id": carried.get("request_id")}
    if task.name in ARTICLE_TASKS and len(args) >= 2:
        fields |= {"article_id": args[0], "version": args[1]}
    _running[task_id] = (logs.bind(**fields), _carried.set(carried), time.perf_counter())
    log.info("task started")


def task_ended(task_id: str, task: Task, state: str | None) -> None:
    entry = _running.pop(task_id, None)
    label = STATES.get(state or "", (state or "unknown").lower())
    metrics.TASKS.labels(task.name, label).inc()
    if entry is None:
        return
    log_token, carried_token, started = entry
    elapsed = time.perf_counter() - started
    metrics.TASK_DURATION.labels(task.name).observe(elapsed)
    log.info("task %s", label, extra={"duration_ms": round(elapsed * 1000, 1)})
    _carried.reset(carried_token)
    logs.reset(log_token)


def carry_headers(headers: dict | None) -> None:
    """Into a message being sent from inside a task: the running task's carried headers."""
    if headers is None:
        return
    for name, value in _carried.get().items():
        headers.setdefault(name, value)


def published() -> None:
    """The running task published its article's version: time since its ingest request."""
    at = _carried.get().get("ingested_at")
    if at is not None:
        metrics.INGEST_TO_PUBLISHED.observe(max(0.0, time.time() - at))


def websub_delivery(outcome: str) -> None:
    metrics.WEBSUB_DELIVERIES.labels(outcome.replace(" ", "_")).inc()


class Backlog:
    """Read at scrape time, not counted: what waits in each queue and in the outbox."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx

    def collect(self):
        try:
            depth = GaugeMetricFamily(
                "newsflow_queue_depth", "Messages waiting in a broker queue.", labels=["queue"]
            )
            for queue in ALL_QUEUES:
                depth.add_metric([queue], self.ctx.redis.llen(queue))
            yield depth
        except Exception as exc:
            log.warning("queue depths not read: %s", type(exc).__name__)
        try:
            with self.ctx.readers() as session:
                count, oldest = session.execute(
                    select(func.count(), func.min(OutboxRow.created_at)).where(
                        OutboxRow.sent_at.is_(None)
                    )
                ).one()
            age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
            yield GaugeMetricFamily(
                "newsflow_outbox_backlog", "Outbox rows not yet sent to the broker.", value=count
            )
            yield GaugeMetricFamily(
                "newsflow_outbox_oldest_age_seconds",
                "Age of the oldest outbox row not yet sent (0 when none waits).",
                value=max(0.0, age),
            )
        except Exception as exc:
            log.warning("outbox backlog not read: %s", type(exc).__name__)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        pass  # a scrape every 15 s is no news; refusals are logged by the app


def metrics_app(ctx):
    token = ctx.settings.metrics_token
    backlog = Backlog(ctx)

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the worker serves GET /metrics only\n"]
        forwarded = any(environ.get(k) for k in ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR",
                                                 "HTTP_X_REAL_IP"))  # fmt: skip
        refusal = metrics.may_scrape(
            token, environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"), forwarded
        )
        if refusal is not None:
            log.warning("metrics scrape refused: %s", refusal.code)
            start_response(f"{refusal.status} Refused", [("Content-Type", "text/plain")])
            return [f"{refusal.detail}\n".encode()]
        body = metrics.exposition([backlog])
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE_LATEST),
                                  ("Content-Length", str(len(body)))])  # fmt: skip
        return [body]

    return app


def serve_metrics(ctx) -> WSGIServer | None:
    host, port = ctx.settings.worker_metrics_host, ctx.settings.worker_metrics_port
    if not port:
        return None
    try:
        server = make_server(host, port, metrics_app(ctx), _Server, _QuietHandler)
    except OSError as exc:
        # A second worker on the same host: it still works, its metrics are not served.
        log.warning("worker metrics not served on %s:%s: %s", host, port, exc)
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("worker metrics on http://%s:%s/metrics", host, port)
    return server


def install(app: Celery) -> None:
    """Connect the signals (once, in the worker's entry point ``render.worker``)."""
    settings = app.newsflow.settings
    # At once, as well as on Celery's signal: the worker warns (running as root, for one)
    # before it sets its logging up, and that line must be JSON too.
    logs.setup("worker", settings.log_format)

    def setup_logging(loglevel=None, **_):
        logs.setup("worker", settings.log_format, loglevel or logging.INFO)

    def prerun(task_id=None, task=None, args=(), **_):
        task_started(task_id, task, args)

    def postrun(task_id=None, task=None, state=None, **_):
        task_ended(task_id, task, state)

    def before_publish(headers=None, **_):
        carry_headers(headers)

    def ready(**_):
        serve_metrics(app.newsflow)

    signals.setup_logging.connect(setup_logging, weak=False)
    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)
    signals.before_task_publish.connect(before_publish, weak=False)
    signals.worker_ready.connect(ready, weak=False)
