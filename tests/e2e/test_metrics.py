"""Prometheus /metrics of the running system: ingest, feed and the worker's endpoint parse
with prometheus_client's own parser, and their counters move as articles are posted
(shared.metrics; docs/operations.md, "Metrics")."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from shared.httpmetrics import FLUSH_S

pytestmark = pytest.mark.e2e


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    resp = requests.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def worker_url(stack) -> str:
    return f"http://127.0.0.1:{stack.settings.worker_metrics_port}"


def wait_for(check, timeout: float = 15):
    """Counts of the fast path and of other processes reach /metrics within seconds
    (shared.httpmetrics flushes once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.25)


def article(tag: str) -> dict:
    return {
        "source": "tests",
        "guid": f"metrics-{tag}",
        "language": "zh-CN",
        "versionCreated": "2026-11-27T10:00:00+08:00",
        "headlines": [{"value": f"指标 {tag}"}],
        "bodies": [{"value": "<p>正文。</p>"}],
    }


def test_ingest_counts_created_unchanged_and_refused_posts(stack):
    before = scrape(stack.ingest)
    doc = article(uuid.uuid4().hex)
    assert stack.post(doc).status_code == 202
    assert stack.post(doc).status_code == 200
    assert stack.post({**doc, "headlines": []}).status_code == 422
    after = scrape(stack.ingest)
    total = "newsflow_ingest_articles_total"
    for outcome in ("created", "unchanged", "refused"):
        assert value(after, total, outcome=outcome) == value(before, total, outcome=outcome) + 1
    refusals = "newsflow_ingest_refusals_total"
    assert value(after, refusals, error="invalid_article") == (
        value(before, refusals, error="invalid_article") + 1
    )


def test_ingest_counts_requests_by_route_and_status(stack):
    name = "newsflow_http_requests_total"
    labels = {"route": "/v1/articles", "method": "POST", "status": "202"}
    time.sleep(FLUSH_S * 1.5)  # earlier tests' requests are counted by now
    before = value(scrape(stack.ingest), name, **labels)
    stack.post(article(uuid.uuid4().hex))
    assert wait_for(lambda: value(scrape(stack.ingest), name, **labels) == before + 1)
    seconds = scrape(stack.ingest)
    assert value(seconds, "newsflow_http_request_duration_seconds_count", route="/v1/articles") > 0


def test_the_feed_counts_fast_path_answers_and_304s(stack):
    resp = stack.post(article(uuid.uuid4().hex))
    stack.wait_status(resp.json()["id"], "published")
    stack.wait_idle()  # its feed rebuilds done: the ETag holds for the next requests
    url = f"{stack.feed}/feeds/all.atom"
    etag = requests.get(url, timeout=10).headers["ETag"]
    name, route = "newsflow_http_requests_total", "/feeds/<path:rest>"
    before = scrape(stack.feed)
    for _ in range(3):
        assert requests.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304

    def moved():
        now = scrape(stack.feed)
        return value(now, name, route=route, method="GET", status="304") >= (
            value(before, name, route=route, method="GET", status="304") + 3
        )

    assert wait_for(moved)


def test_the_worker_counts_tasks_and_the_time_to_published(stack):
    before = scrape(worker_url(stack))
    resp = stack.post(article(uuid.uuid4().hex))
    stack.wait_status(resp.json()["id"], "published")
    task = "newsflow.images.process_article"

    def moved():
        now = scrape(worker_url(stack))
        return (
            value(now, "newsflow_tasks_total", task=task, state="succeeded")
            > value(before, "newsflow_tasks_total", task=task, state="succeeded")
            and value(now, "newsflow_ingest_to_published_seconds_count")
            > value(before, "newsflow_ingest_to_published_seconds_count")
        ) and now

    now = wait_for(moved)
    assert now, "the worker's counters did not move"
    assert value(now, "newsflow_task_duration_seconds_count", task=task) > 0


def test_the_worker_reports_queue_depths_and_the_outbox_backlog(stack):
    samples = scrape(worker_url(stack))
    for queue in ("images", "render", "feeds", "notify"):
        assert ("newsflow_queue_depth", (("queue", queue),)) in samples
    assert ("newsflow_outbox_backlog", ()) in samples
    assert ("newsflow_outbox_oldest_age_seconds", ()) in samples


@pytest.mark.parametrize("service", ["ingest", "feed", "worker"])
def test_metrics_relayed_by_a_proxy_are_refused_without_the_token(stack, service):
    url = worker_url(stack) if service == "worker" else getattr(stack, service)
    resp = requests.get(f"{url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
    assert resp.status_code == 403
    assert "newsflow_" not in resp.text
