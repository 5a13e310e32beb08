"""Feed rebuild coalescing against a real Redis (the test run's private server)."""

from __future__ import annotations

import subprocess
import sys
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


class Sent(list):
    """What request_rebuild sent: (feed key, token) pairs."""

    def __call__(self, feed_key: str, token: str) -> None:
        self.append((feed_key, token))

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self]


def test_a_burst_sends_one_rebuild(r, key):
    sent = Sent()
    for _ in range(10):
        coalesce.request_rebuild(r, sent, key)
    assert sent.keys == [key]


def test_a_request_after_the_rebuild_began_sends_another(r, key):
    sent = Sent()
    coalesce.request_rebuild(r, sent, key)
    coalesce.begin_rebuild(r, key)
    coalesce.request_rebuild(r, sent, key)
    assert sent.keys == [key, key]


def test_feeds_coalesce_independently(r, key):
    sent = Sent()
    coalesce.request_rebuild(r, sent, key)
    coalesce.request_rebuild(r, sent, key + "-other")
    assert sent.keys == [key, key + "-other"]


def test_a_failed_send_does_not_leave_the_feed_marked(r, key):
    def broken(*_):
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        coalesce.request_rebuild(r, broken, key)
    sent = Sent()
    coalesce.request_rebuild(r, sent, key)
    assert sent.keys == [key]


def test_the_mark_expires_if_the_rebuild_is_lost(r, key):
    coalesce.request_rebuild(r, Sent(), key)
    ttl = r.ttl(f"newsflow:feed:pending:{key}")
    assert 0 < ttl <= coalesce.PENDING_TTL_S


def test_a_requester_killed_before_its_send_does_not_hold_the_feed(r, redis_srv, key):
    # The process marks the feed and is SIGKILLed (as the OOM killer would) where it would
    # send the rebuild; the next request must still send one, not wait for the mark to expire.
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys\n"
            "from render import coalesce\n"
            "from shared.redisurl import client\n"
            "die = lambda *_: os.kill(os.getpid(), signal.SIGKILL)\n"
            "coalesce.request_rebuild(client(sys.argv[1]), die, sys.argv[2])\n",
            redis_srv.url,
            key,
        ],
        timeout=30,
    )
    assert killed.returncode == -9
    assert r.exists(f"newsflow:feed:pending:{key}")  # it did mark the feed
    sent = Sent()
    assert coalesce.request_rebuild(r, sent, key)
    assert sent.keys == [key]


def test_a_rebuild_that_began_before_the_mark_was_confirmed_leaves_no_mark(r, key):
    # The rebuild may run (and clear the mark) before its requester confirms the mark: the
    # confirmation must not then promise a rebuild that already began.
    def send_and_begin(feed_key, token):
        coalesce.begin_rebuild(r, feed_key)

    coalesce.request_rebuild(r, send_and_begin, key)
    sent = Sent()
    assert coalesce.request_rebuild(r, sent, key)
    assert sent.keys == [key]


def test_a_rebuild_is_superseded_only_by_a_later_pending_one(r, key):
    sent = Sent()
    coalesce.request_rebuild(r, sent, key)
    [(_, first)] = sent
    assert not coalesce.superseded(r, key, first)  # it is the pending one itself
    coalesce.begin_rebuild(r, key)
    assert not coalesce.superseded(r, key, first)  # none pending: it must run
    coalesce.request_rebuild(r, sent, key)
    [_, (_, second)] = sent
    assert coalesce.superseded(r, key, first)
    assert not coalesce.superseded(r, key, second)
    assert not coalesce.superseded(r, key, None)  # sent before tokens: never dropped
