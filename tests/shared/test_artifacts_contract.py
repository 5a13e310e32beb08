"""The ArtifactStore contract (shared.artifacts.interfaces), the same behaviours on every
backend: the local directory and S3 (moto's server over real HTTP on loopback)."""

from __future__ import annotations

import time

import pytest

from shared.artifacts import BadKey, LocalArtifactStore
from shared.artifacts.s3 import S3ArtifactStore


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "artifacts")
    s3 = request.getfixturevalue("s3_server")
    return S3ArtifactStore(s3.new_bucket(), "site/artifacts", endpoint_url=s3.endpoint)


def test_put_then_get_returns_the_bytes(store):
    store.put("feeds/region/内蒙.rss", b"<rss/>")
    assert store.get("feeds/region/内蒙.rss") == b"<rss/>"


def test_put_replaces_previous_bytes(store):
    store.put("pages/a.html", b"old")
    store.put("pages/a.html", b"new")
    assert store.get("pages/a.html") == b"new"


def test_put_many_writes_every_item(store):
    items = {"feeds/all.atom": b"a", "feeds/all.atom.gz": b"g", "pages/index.html": b"p"}
    store.put_many(items)
    assert {key: store.get(key) for key in items} == items


def test_missing_key_is_none_for_get_load_and_info(store):
    assert store.get("nothing/here") is None
    assert store.load("nothing/here") is None
    assert store.info("nothing/here") is None


def test_info_reports_size_and_write_time(store):
    before = time.time()
    store.put("feeds/all.json", b"12345")
    info = store.info("feeds/all.json")
    assert info is not None
    assert info.size == 5
    assert before - 2 <= info.mtime <= time.time() + 2


def test_version_is_stable_while_nothing_is_written(store):
    store.put("feeds/all.rss", b"x")
    assert store.info("feeds/all.rss").version == store.info("feeds/all.rss").version


def test_version_changes_when_bytes_of_the_same_size_are_written(store):
    store.put("feeds/all.rss", b"old")
    first = store.info("feeds/all.rss").version
    store.put("feeds/all.rss", b"new")
    assert store.info("feeds/all.rss").version != first


def test_version_is_the_version_info_gives(store):
    store.put("feeds/all.rss", b"x")
    assert store.version("feeds/all.rss") == store.info("feeds/all.rss").version


def test_version_of_a_missing_key_is_none(store):
    assert store.version("feeds/never-written.rss") is None


def test_load_gives_bytes_with_the_info_of_that_version(store):
    store.put("feeds/all.atom", b"<feed/>")
    found = store.load("feeds/all.atom")
    assert found.data == b"<feed/>"
    assert found.info == store.info("feeds/all.atom")


def test_a_later_write_has_a_later_mtime(store):
    # The order render.feedbuild._siblings_behind relies on: feed, sibling, feed again
    # within one second (S3's Last-Modified alone has whole seconds).
    store.put("feeds/all.atom", b"v1")
    store.put("feeds/all.atom.gz", b"g1")
    store.put("feeds/all.atom", b"v2")
    assert store.info("feeds/all.atom.gz").mtime < store.info("feeds/all.atom").mtime


def test_delete_removes_the_artifact(store):
    store.put("feeds/all.atom", b"x")
    store.delete("feeds/all.atom")
    assert store.get("feeds/all.atom") is None
    assert store.info("feeds/all.atom") is None


def test_delete_of_a_missing_key_is_a_no_op(store):
    store.delete("feeds/never-written.rss")
    assert store.get("feeds/never-written.rss") is None


def test_a_key_that_could_leave_the_store_is_refused_and_nothing_is_written(store):
    with pytest.raises(BadKey):
        store.put_many({"feeds/ok.rss": b"x", "../escaped": b"x"})
    assert store.get("feeds/ok.rss") is None


def test_reading_a_bad_key_is_bad_key(store):
    with pytest.raises(BadKey):
        store.get("pages/region/" + "区" * 100 + ".html")


def test_remote_says_whether_info_is_a_network_round_trip(store):
    assert store.remote is isinstance(store, S3ArtifactStore)
