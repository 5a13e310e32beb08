"""The feed's in-memory artifacts on a remote store (feed.artifacts, feed.invalidation): bytes
are served from memory, a writer's announcement on real Redis pub/sub replaces them at once,
and a periodic revalidation catches what no announcement told. The store is S3 over real
HTTP (moto's server on loopback)."""

from __future__ import annotations

import time

import pytest

from feed.artifacts import ArtifactCache
from feed.invalidation import Listener
from shared.artifacts import LocalArtifactStore, StoreUnavailable
from shared.artifacts.announce import AnnouncingStore
from shared.artifacts.s3 import S3ArtifactStore
from shared.redisurl import client
from tests.conftest import RedisServer, free_port

KEY = "feeds/all.atom"


@pytest.fixture
def store(s3_server) -> S3ArtifactStore:
    return S3ArtifactStore(s3_server.new_bucket(), "a", endpoint_url=s3_server.endpoint)


@pytest.fixture
def listening(store, redis_srv):
    """A cache that listens on the real Redis, and a writer that announces there."""
    cache = ArtifactCache(store, revalidate_after=60)
    listener = Listener(redis_srv.url, cache)
    cache.set_first_use(listener.start)
    cache.get(KEY)  # starts the listener
    assert listener.subscribed.wait(10)
    writer = AnnouncingStore.on(store, client(redis_srv.url))
    yield cache, writer
    listener.stop()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_within_the_interval_a_silent_write_is_not_seen(store):
    # Proves the copy comes from memory: the store is not asked per read.
    cache = ArtifactCache(store, revalidate_after=60)
    store.put(KEY, b"v1")
    assert cache.get(KEY).data == b"v1"
    store.put(KEY, b"v2")  # no announcement
    assert cache.get(KEY).data == b"v1"


def test_an_announced_write_is_served_at_once(listening):
    cache, writer = listening
    writer.put(KEY, b"v1")
    assert wait_for(lambda: cache.get(KEY) is not None and cache.get(KEY).data == b"v1")
    writer.put(KEY, b"v2")
    assert wait_for(lambda: cache.get(KEY).data == b"v2", timeout=1.0)


def test_an_announced_delete_is_served_as_absent(listening):
    cache, writer = listening
    writer.put(KEY, b"v1")
    assert wait_for(lambda: cache.get(KEY) is not None)
    writer.delete(KEY)
    assert wait_for(lambda: cache.get(KEY) is None, timeout=1.0)


def test_an_absent_key_is_remembered_until_announced(store, listening):
    cache, writer = listening
    assert cache.get("pages/articles/x.html") is None
    store.put("pages/articles/x.html", b"silent")
    assert cache.get("pages/articles/x.html") is None  # remembered, not asked again
    writer.put("pages/articles/x.html", b"announced")
    assert wait_for(lambda: cache.get("pages/articles/x.html") is not None, timeout=1.0)


def test_after_the_interval_a_silent_write_is_found(store):
    cache = ArtifactCache(store, revalidate_after=0.2)
    store.put(KEY, b"v1")
    assert cache.get(KEY).data == b"v1"
    store.put(KEY, b"v2")
    assert wait_for(lambda: cache.get(KEY).data == b"v2", timeout=3.0)


def test_revalidate_all_makes_every_copy_be_confirmed(store):
    cache = ArtifactCache(store, revalidate_after=60)
    store.put(KEY, b"v1")
    cache.get(KEY)
    store.put(KEY, b"v2")
    cache.revalidate_all()  # what the listener does when it (re)subscribes
    assert cache.get(KEY).data == b"v2"


def test_the_etag_is_the_hash_of_the_bytes_on_every_replica(store):
    store.put(KEY, b"same bytes")
    one, two = ArtifactCache(store), ArtifactCache(store)
    assert one.get(KEY).etag == two.get(KEY).etag


def test_a_store_that_stops_answering_leaves_the_cached_copy_served(store):
    cache = ArtifactCache(store, revalidate_after=0.01)
    store.put(KEY, b"v1")
    assert cache.get(KEY).data == b"v1"
    cut_off(store)
    time.sleep(0.05)
    assert cache.get(KEY).data == b"v1"


def test_a_store_that_does_not_answer_is_store_unavailable_for_an_uncached_key(store):
    cache = ArtifactCache(store, revalidate_after=60)
    cut_off(store)
    with pytest.raises(StoreUnavailable):
        cache.get(KEY)


def cut_off(store: S3ArtifactStore) -> None:
    """Point the store at a loopback port nobody listens on (as if the server went away)."""
    store.endpoint_url = f"http://127.0.0.1:{free_port()}"
    store.timeout = 1
    store._client = None


def test_on_local_disk_a_rewrite_is_served_on_the_next_read(tmp_path):
    local = LocalArtifactStore(tmp_path)
    cache = ArtifactCache(local, revalidate_after=60)
    local.put(KEY, b"v1")
    assert cache.get(KEY).data == b"v1"
    local.put(KEY, b"v2")  # no announcement: the stat per read sees it
    assert cache.get(KEY).data == b"v2"


def test_the_oldest_copies_go_when_the_byte_budget_is_spent(tmp_path):
    local = LocalArtifactStore(tmp_path)
    cache = ArtifactCache(local, max_bytes=250)
    for name in ("a", "b", "c"):
        local.put(f"pages/{name}.html", name.encode() * 100)
        cache.get(f"pages/{name}.html")
    assert cache.held_bytes == 200
    assert cache._slots.keys() == {"pages/b.html", "pages/c.html"}


def test_after_redis_comes_back_every_copy_is_revalidated(store, tmp_path):
    # Announcements made while the listener was away are lost (pub/sub keeps no backlog):
    # on subscribing again it has every copy confirmed.
    own = RedisServer(free_port(), tmp_path / "redis")
    own.start()
    cache = ArtifactCache(store, revalidate_after=60)
    listener = Listener(own.url, cache, retry_after=0.2)
    cache.set_first_use(listener.start)
    try:
        store.put(KEY, b"v1")
        assert cache.get(KEY).data == b"v1"
        assert listener.subscribed.wait(10)
        own.stop()
        assert wait_for(lambda: not listener.subscribed.is_set())
        store.put(KEY, b"v2")  # announced to nobody
        own.start()
        assert listener.subscribed.wait(10)
        assert cache.get(KEY).data == b"v2"
    finally:
        listener.stop()
        own.stop()
