"""A hung Redis (SIGSTOP, as in a network partition) never hangs ingest.

Articles are posted at a steady 2/s while the stack's Redis is stopped for 30 s: every POST
answers 202 in under a second, ``/healthz`` on ingest and feed answers 503 in under two
seconds, and once Redis continues every article is published within 30 s.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests
import sqlalchemy as sa

from tests.ingest.test_api_bad_input import article

pytestmark = pytest.mark.e2e

STOPPED_FOR = 30.0
POST_EVERY = 0.5


@dataclass
class Probes:
    """``/healthz`` of ingest and feed, asked every second on a thread of its own, as a
    load balancer would, while the articles are posted."""

    urls: list[str]
    answers: list[tuple[str, int, float, dict]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.done.wait(1.0):
            for url in self.urls:
                started = time.monotonic()
                try:
                    resp = requests.get(f"{url}/healthz", timeout=10)
                    code, body = resp.status_code, resp.json()
                except requests.RequestException as exc:
                    code, body = 0, {"exception": repr(exc)}
                self.answers.append((url, code, time.monotonic() - started, body))


def post_steadily(stack, until: float, answers: list) -> None:
    """POST an article every POST_EVERY seconds until ``until``; note (code, seconds, id)."""
    next_at = time.monotonic()
    while next_at < until:
        time.sleep(max(0.0, next_at - time.monotonic()))
        started = time.monotonic()
        resp = stack.post(article(headlines=[{"value": f"Redis 停顿期间 {len(answers)}"}]))
        elapsed = time.monotonic() - started
        answers.append((resp.status_code, elapsed, resp.json().get("id")))
        next_at += POST_EVERY


def published(stack, ids: list[str]) -> int:
    with stack.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM articles WHERE status = 'published' AND id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": ids},
        ).scalar()


def test_a_stopped_redis_slows_no_post_and_healthz_says_so(stack):
    stack.wait_idle()
    pid = stack.redis.proc.pid
    posts: list[tuple[int, float, str]] = []
    probes = Probes([stack.ingest, stack.feed])
    os.kill(pid, signal.SIGSTOP)
    try:
        prober = threading.Thread(target=probes.run, daemon=True)
        prober.start()
        post_steadily(stack, time.monotonic() + STOPPED_FOR, posts)
        probes.done.set()
        prober.join(timeout=15)
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()

    assert len(posts) >= STOPPED_FOR / POST_EVERY - 1
    slow = [(code, round(t, 2)) for code, t, _ in posts if code != 202 or t >= 1.0]
    assert not slow, f"{len(slow)} of {len(posts)} POSTs not 202 within 1 s: {slow}"
    for url in (stack.ingest, stack.feed):
        seen = [(code, round(t, 2), body) for u, code, t, body in probes.answers if u == url]
        assert seen, f"no /healthz answer from {url}"
        bad = [s for s in seen if s[0] != 503 or s[1] >= 2.0 or "error" not in s[2]["redis"]]
        assert not bad, f"{url}/healthz while Redis was stopped: {bad}"

    ids = [article_id for _, _, article_id in posts]
    while published(stack, ids) < len(ids) and time.monotonic() - resumed < 30:
        time.sleep(0.2)
    assert published(stack, ids) == len(ids), "not every article was published within 30 s"
    for url in (stack.ingest, stack.feed):
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
