"""Prometheus metrics: the names every process agrees on, and how a process exposes them.

Multi-process servers (gunicorn's and granian's workers, Celery's prefork pool) count in
``prometheus_client``'s multiprocess mode: each process writes its values to memory-mapped
files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums them over every file in the
directory (``MultiProcessCollector``), whichever process answers it. The variable is read by
``prometheus_client`` when it is first imported, so it must be in the environment before the
process starts (``newsflow up`` gives each service a directory of its own and empties it at
every start; docs/operations.md, "Metrics"). Without it each process counts for itself, which
is right for one process and wrong under a multi-worker server.

Each service has a directory of its own: a scrape of ingest must not report the feed's
requests. Metrics of the state of the whole system (queue depths, the outbox backlog) are not
counted but read at scrape time by a collector (``render.observe.Backlog``).

Label values are always from closed sets (route templates, never raw paths; our own error
codes; task names), so a client cannot grow the number of series.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable

# The directory must exist before the first value is made (some are made at import, below).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from shared.partners import Refusal

__all__ = ["CONTENT_TYPE_LATEST", "exposition", "may_scrape", "webhook_delivery"]

# HTTP: a feed poll answered from memory takes tens of microseconds, an article POST tens of
# milliseconds; the buckets cover both (the first bucket that fits is found in a few steps).
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
TASK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The freshness target is seconds (docs/benchmarks.md, Freshness); an embargo waits longer.
PUBLISH_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 900, 3600)

HTTP_REQUESTS = Counter(
    "newsflow_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "newsflow_http_request_duration_seconds",
    "Time from a request reaching the WSGI app to its answer being handed to the server.",
    ["route"],
    buckets=HTTP_BUCKETS,
)
INGEST_ARTICLES = Counter(
    "newsflow_ingest_articles_total",
    "Articles posted, by outcome: created, updated, unchanged, refused (4xx) or error (5xx).",
    ["outcome"],
)
INGEST_REFUSALS = Counter(
    "newsflow_ingest_refusals_total",
    "Article posts refused, by error code (the `error` of the JSON answer).",
    ["error"],
)
TASKS = Counter(
    "newsflow_tasks_total",
    "Celery tasks run, by task name and final state: succeeded, failed, retried.",
    ["task", "state"],
)
TASK_DURATION = Histogram(
    "newsflow_task_duration_seconds",
    "Time a task ran in a worker process, by task name.",
    ["task"],
    buckets=TASK_BUCKETS,
)
INGEST_TO_PUBLISHED = Histogram(
    "newsflow_ingest_to_published_seconds",
    "Time from the ingest request that made a version to that version's page being published.",
    buckets=PUBLISH_BUCKETS,
)
WEBSUB_DELIVERIES = Counter(
    "newsflow_websub_deliveries_total",
    "WebSub content distributions, by outcome: delivered, refused, retry, given_up, "
    "unsubscribed, expired, no_feed, already_delivered.",
    ["outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "newsflow_webhook_deliveries_total",
    "Partner webhook deliveries, by outcome (counted through webhook_delivery()).",
    ["outcome"],
)

# What the webhook sender may report (anything else counts as "other", so the label set
# stays closed whatever the caller passes).
WEBHOOK_OUTCOMES = frozenset(
    {"delivered", "refused", "retry", "given_up", "skipped", "disabled", "other"}
)


def webhook_delivery(outcome: str) -> None:
    """The hook for partner webhook deliveries: call once per delivery attempt's end."""
    WEBHOOK_DELIVERIES.labels(outcome if outcome in WEBHOOK_OUTCOMES else "other").inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _ThisProcess:
    """The default registry (this process's own metrics) as a collector of another registry."""

    def collect(self):
        return REGISTRY.collect()


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text format (version 0.0.4) of every metric, plus ``extra`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


# Headers a reverse proxy adds: their presence means the loopback peer is only the proxy,
# relaying someone from anywhere (docs/nginx.conf sets X-Forwarded-For).
FORWARDED_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def may_scrape(
    token: str, authorization: str | None, remote_addr: str | None, forwarded: bool
) -> Refusal | None:
    """Who may read /metrics; None when this caller may.

    With ``METRICS_TOKEN`` set: only a caller that sends it (``Authorization: Bearer``),
    compared in constant time. Without one: only a loopback caller that no proxy relayed, so
    a deployment that forgot the token does not publish its metrics through its proxy."""
    if token:
        scheme, _, sent = (authorization or "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            sent.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
        ):
            return None
        return Refusal(401, "metrics_token_required", "send the METRICS_TOKEN as a bearer token")
    if _loopback(remote_addr) and not forwarded:
        return None
    return Refusal(
        403,
        "metrics_loopback_only",
        "metrics are served to loopback callers only; set METRICS_TOKEN to scrape from elsewhere",
    )
