"""The whole pipeline on the S3 backend with two feed service processes (issue 11): real
Redis, a real Celery worker, real ingest and relay, two feed servers (as on two hosts: they
share nothing but Redis and the store), and moto's S3 server over HTTP on loopback.

The replicas' periodic revalidation is set to a minute, so a new article can reach them within
a second only through the worker's pub/sub announcement (shared.artifacts.announce)."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from functools import partial

import pytest
import requests

from newsflow import localkeys
from newsflow.launcher import Stack
from shared.artifacts.announce import CHANNEL, parse
from shared.partners import SCOPES
from shared.redisurl import client
from shared.settings import Settings
from tests.conftest import ISSUED_KEYS, S3_CREDENTIALS, TEST_SOURCES, RedisServer, free_port

pytestmark = pytest.mark.e2e

PREFIX = "site/artifacts"


class S3Stack(Stack):
    def env(self, name: str | None = None) -> dict[str, str]:
        return {**super().env(name), **S3_CREDENTIALS}


@dataclasses.dataclass
class Running:
    stack: S3Stack
    feeds: list[str]  # the two feed servers' base URLs
    bucket: str
    key: str

    def post(self, doc: dict) -> requests.Response:
        return requests.post(
            f"{self.stack.ingest_url}/v1/articles", json=doc, timeout=30,
            headers={"Authorization": f"Bearer {self.key}"},
        )  # fmt: skip


@pytest.fixture(scope="module")
def s3_stack(s3_server, tmp_path_factory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("s3-data")
    # A Redis of its own: the session stack's worker must not take this stack's tasks.
    redis_srv = RedisServer(free_port(), tmp_path_factory.mktemp("s3-redis"))
    redis_srv.start()
    bucket = s3_server.new_bucket()
    env = {
        "NEWSFLOW_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'newsflow.db'}",
        "REDIS_URL": redis_srv.url,
        "FEED_PORT": str(free_port()),
        "INGEST_PORT": str(free_port()),
        "RELAY_INTERVAL": "0.2",
        "ARTIFACT_REVALIDATE_SECONDS": "60",
        **s3_server.env(bucket, PREFIX),
    }
    stack = S3Stack(Settings.from_env(env), concurrency=2)
    try:
        stack.start()
        # The second replica: the same command on another port, as on a second host.
        second = S3Stack(dataclasses.replace(stack.settings, feed_port=free_port()))
        log = data_dir / "logs" / "feed-2.log"
        stack.supervisor.add(
            "feed-2", partial(stack._spawn, "feed-2", second.commands()["feed"], log), log
        )
        wait_healthy(second.feed_url)
    except Exception:
        stack.stop()
        redis_srv.stop()
        raise
    key = localkeys.issue(stack.settings, "tests", list(SCOPES), TEST_SOURCES, localkeys.UNLIMITED)
    ISSUED_KEYS.append(key)
    yield Running(stack, [stack.feed_url, second.feed_url], bucket, key)
    stack.stop()
    redis_srv.stop()


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not become healthy")


def article(headline: str) -> dict:
    stamp = "2017-12-04T08:00:00+08:00"
    return {
        "source": "tests",
        "guid": f"s3-pipeline-{uuid.uuid4().hex}",
        "language": "zh-CN",
        "versionCreated": stamp,
        "firstCreated": stamp,
        "headlines": [{"value": headline}],
        "bodies": [{"value": f"<p>{headline}的正文。</p>"}],
    }


class Announcements:
    """Listens on the stack's Redis: when the worker announced a feed holding ``marker``."""

    def __init__(self, redis_url: str, s3_client, bucket: str, key: str, marker: bytes) -> None:
        self.pubsub = client(redis_url).pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(CHANNEL)
        self.pubsub.get_message(timeout=1)
        self.s3, self.bucket, self.key, self.marker = s3_client, bucket, key, marker
        self.at: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        while self.at is None and time.monotonic() < deadline:
            msg = self.pubsub.get_message(timeout=0.5)
            if not msg or msg["type"] != "message":
                continue
            now = time.monotonic()
            if self.key in (parse(msg["data"]) or []):
                body = self.s3.get_object(Bucket=self.bucket, Key=f"{PREFIX}/{self.key}")
                if self.marker in body["Body"].read():
                    self.at = now  # the rebuild that holds the article is written

    def wait(self, timeout: float = 120) -> float:
        self.thread.join(timeout)
        assert self.at is not None, f"no announcement of {self.key} holding the article"
        return self.at


def first_seen(url: str, marker: bytes, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = requests.get(url, timeout=10)
        if resp.status_code == 200 and marker in resp.content:
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"{url} never served the article")


def test_a_new_article_is_served_by_both_replicas_within_a_second_of_its_rebuild(
    s3_stack, s3_server
):
    headline = f"对象存储测试 {uuid.uuid4().hex[:8]}"
    marker = headline.encode()
    # Each replica has answered the feed before (absent, or without the article), so an
    # old answer is in its memory, good for a minute unless an announcement says otherwise.
    for base in s3_stack.feeds:
        requests.get(f"{base}/feeds/all.atom", timeout=10)
    heard = Announcements(
        s3_stack.stack.settings.redis_url, s3_server.client(), s3_stack.bucket,
        "feeds/all.atom", marker,
    )  # fmt: skip
    assert s3_stack.post(article(headline)).status_code in (200, 201, 202)
    seen = {}
    threads = [
        threading.Thread(
            target=lambda b=base: seen.__setitem__(b, first_seen(f"{b}/feeds/all.atom", marker))
        )
        for base in s3_stack.feeds
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    written = heard.wait()
    lags = {base: round(seen[base] - written, 3) for base in s3_stack.feeds}
    assert all(lag <= 1.0 for lag in lags.values()), f"seconds after the rebuild: {lags}"


def test_artifacts_are_in_the_bucket_and_not_on_local_disk(s3_stack, s3_server):
    listed = s3_server.client().list_objects_v2(Bucket=s3_stack.bucket, Prefix=f"{PREFIX}/feeds/")
    assert f"{PREFIX}/feeds/all.atom" in {o["Key"] for o in listed.get("Contents", [])}
    assert not (s3_stack.stack.settings.data_dir / "artifacts").exists()


def test_an_article_page_is_served_by_both_replicas(s3_stack):
    headline = f"页面测试 {uuid.uuid4().hex[:8]}"
    resp = s3_stack.post(article(headline))
    article_id = resp.json()["id"]
    for base in s3_stack.feeds:
        first_seen(f"{base}/articles/{article_id}", headline.encode(), timeout=60)


def test_both_replicas_serve_the_compressed_sibling_of_the_current_feed(s3_stack):
    headline = f"压缩测试 {uuid.uuid4().hex[:8]}"
    s3_stack.post(article(headline))
    for base in s3_stack.feeds:
        first_seen(f"{base}/feeds/all.rss", headline.encode(), timeout=60)
        deadline = time.monotonic() + 30
        while True:
            resp = requests.get(f"{base}/feeds/all.rss", headers={"Accept-Encoding": "gzip"},
                                timeout=10)  # fmt: skip
            if resp.headers.get("Content-Encoding") == "gzip":
                break
            assert time.monotonic() < deadline, f"{base} never served the .gz sibling"
            time.sleep(0.1)
        assert headline.encode() in resp.content  # requests decodes it
