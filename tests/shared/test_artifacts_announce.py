"""Writes announced on Redis pub/sub (shared.artifacts.announce), on the test's real Redis."""

from __future__ import annotations

import time

import pytest

from shared.artifacts import LocalArtifactStore
from shared.artifacts.announce import CHANNEL, AnnouncingStore, message, parse
from shared.redisurl import client
from tests.conftest import free_port


@pytest.fixture
def subscriber(redis_srv):
    pubsub = client(redis_srv.url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)  # the subscription's confirmation
    yield pubsub
    pubsub.close()


def next_keys(pubsub) -> list[str] | None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=0.5)
        if msg and msg["type"] == "message":
            return parse(msg["data"])
    return None


def test_put_many_announces_its_keys_after_writing(tmp_path, redis_srv, subscriber):
    local = LocalArtifactStore(tmp_path)
    store = AnnouncingStore.on(local, client(redis_srv.url))
    store.put_many({"feeds/region/内蒙.atom": b"a", "feeds/region/内蒙.atom.gz": b"g"})
    assert next_keys(subscriber) == ["feeds/region/内蒙.atom", "feeds/region/内蒙.atom.gz"]
    assert local.get("feeds/region/内蒙.atom") == b"a"


def test_delete_is_announced(tmp_path, redis_srv, subscriber):
    store = AnnouncingStore.on(LocalArtifactStore(tmp_path), client(redis_srv.url))
    store.delete("pages/articles/x.html")
    assert next_keys(subscriber) == ["pages/articles/x.html"]


def test_a_write_stands_when_redis_cannot_be_told(tmp_path):
    dead = client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5, retries=0)
    store = AnnouncingStore.on(LocalArtifactStore(tmp_path), dead)
    store.put("feeds/all.atom", b"written")
    assert store.get("feeds/all.atom") == b"written"


def test_a_message_round_trips():
    assert parse(message(["feeds/all.atom", "feeds/内蒙.rss"])) == [
        "feeds/all.atom",
        "feeds/内蒙.rss",
    ]


@pytest.mark.parametrize(
    "data", [b"not json", b"[1, 2]", b'{"keys": "x"}', b'{"keys": [1]}', b"\xff"]
)
def test_a_foreign_message_is_none(data):
    assert parse(data) is None
