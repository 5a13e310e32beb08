"""With Redis down, ingest still accepts; the outbox relay sends once Redis is back."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.ingest.test_api_bad_input import article

pytestmark = pytest.mark.e2e


def unsent(stack) -> int:
    with stack.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar()


def test_article_posted_while_redis_is_down_is_published_when_it_returns(stack):
    stack.wait_idle()
    stack.redis.stop()
    try:
        started = time.monotonic()
        resp = stack.post(article(headlines=[{"value": "中断期间提交的文章"}]))
        elapsed = time.monotonic() - started
        assert resp.status_code == 202, resp.text
        assert elapsed < 5, f"ingest waited {elapsed:.1f}s on a dead broker"
        article_id = resp.json()["id"]
        time.sleep(1)  # a few relay passes fail meanwhile
        assert stack.status(article_id)["status"] == "queued"
        assert unsent(stack) >= 1
    finally:
        stack.redis.start()
    stack.wait_status(article_id, "published", timeout=90)
    assert unsent(stack) == 0
