"""What only the S3 backend has: the bucket and prefix, its URL, and an unreachable store."""

from __future__ import annotations

import pytest

from shared.artifacts import BadKey, StoreUnavailable, open_store
from shared.artifacts.s3 import S3ArtifactStore, parse_url
from shared.settings import Settings
from tests.conftest import free_port


def test_objects_land_under_the_prefix(s3_server):
    bucket = s3_server.new_bucket()
    S3ArtifactStore(bucket, "site/a", endpoint_url=s3_server.endpoint).put("feeds/内蒙.rss", b"x")
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["site/a/feeds/内蒙.rss"]


def test_stores_with_other_prefixes_do_not_see_each_other(s3_server):
    bucket = s3_server.new_bucket()
    S3ArtifactStore(bucket, "one", endpoint_url=s3_server.endpoint).put("feeds/all.rss", b"1")
    other = S3ArtifactStore(bucket, "two", endpoint_url=s3_server.endpoint)
    assert other.get("feeds/all.rss") is None


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://b", "b", ""),
        ("s3://b/", "b", ""),
        ("s3://b/p/q/", "b", "p/q/"),
        ("s3://b/p", "b", "p/"),
    ],
)
def test_parse_url(url, bucket, prefix):
    assert parse_url(url) == (bucket, prefix)


def test_open_store_gives_the_s3_backend_for_an_s3_url(s3_server):
    settings = Settings.from_env({**s3_server.env("bkt", "x/y"), "NEWSFLOW_DATA_DIR": "/tmp/nf"})
    store = open_store(settings)
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix, store.endpoint_url) == ("bkt", "x/y/", s3_server.endpoint)


def test_a_key_too_long_with_the_prefix_is_bad_key(s3_server):
    store = S3ArtifactStore("b", "p" * 200, endpoint_url=s3_server.endpoint)
    key = "/".join(["区" * 80] * 4)  # 963 bytes: fits alone, not with the prefix
    with pytest.raises(BadKey):
        store.put(key, b"x")


def test_an_unreachable_store_is_store_unavailable_not_absent():
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3ArtifactStore("b", endpoint_url=dead, timeout=1)
    with pytest.raises(StoreUnavailable):
        store.info("feeds/all.atom")


def test_a_missing_bucket_is_store_unavailable_not_absent(s3_server):
    store = S3ArtifactStore("no-such-bucket-here", endpoint_url=s3_server.endpoint)
    with pytest.raises(StoreUnavailable):
        store.put("feeds/all.atom", b"x")
