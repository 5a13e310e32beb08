"""Feed rebuild coalescing against a real Redis (the test run's private server)."""

from __future__ import annotations

import uuid

import pytest

from render import coalesce
from shared.redisurl import client


@pytest.fixture
def r(redis_srv):
    if redis_srv.proc is None or redis_srv.proc.poll() is not None:
        redis_srv.start()
    return client(redis_srv.url)


@pytest.fixture
def key() -> str:
    return f"region/coalesce-{uuid.uuid4().hex}"


def test_a_burst_sends_one_rebuild(r, key):
    sent = []
    for _ in range(10):
        coalesce.request_rebuild(r, sent.append, key)
    assert sent == [key]


def test_a_request_after_the_rebuild_began_sends_another(r, key):
    sent = []
    coalesce.request_rebuild(r, sent.append, key)
    coalesce.begin_rebuild(r, key)
    coalesce.request_rebuild(r, sent.append, key)
    assert sent == [key, key]


def test_feeds_coalesce_independently(r, key):
    sent = []
    coalesce.request_rebuild(r, sent.append, key)
    coalesce.request_rebuild(r, sent.append, key + "-other")
    assert sent == [key, key + "-other"]


def test_a_failed_send_does_not_leave_the_feed_marked(r, key):
    def broken(_):
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        coalesce.request_rebuild(r, broken, key)
    sent = []
    coalesce.request_rebuild(r, sent.append, key)
    assert sent == [key]


def test_the_mark_expires_if_the_rebuild_is_lost(r, key):
    coalesce.request_rebuild(r, lambda _: None, key)
    ttl = r.ttl(f"newsflow:feed:pending:{key}")
    assert 0 < ttl <= coalesce.PENDING_TTL_S
