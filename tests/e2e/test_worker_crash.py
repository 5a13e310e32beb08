"""A crashed worker process costs seconds: the worker's pool processes are SIGKILLed (as the
OOM killer would) twice while 300 articles go through the real stack, and every article is
still published once, in every feed and archive page it belongs to, within a minute.

The stack here is this module's own (its own database, data dir and Redis database on the
test run's server): archive pages of 20, not the shared stack's 3, so the 300 articles make
a few dozen archive pages instead of hundreds, and its pool processes can be killed without
touching the shared worker.
"""

from __future__ import annotations

import json
import re
import signal
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from newsflow import localkeys
from newsflow.launcher import Stack
from render import locks, tasks
from render.app import VISIBILITY_TIMEOUT_S
from shared import keys, migrate
from shared.db import make_engine
from shared.partners import SCOPES
from shared.settings import Settings
from tests.conftest import ISSUED_KEYS, TEST_SOURCES, RunningStack, _postgres_database, free_port

pytestmark = pytest.mark.e2e

ARTICLES = 300
REGIONS = ["华北", "华东", "西南"]
SOURCES = ["新华社", "科协", "晨报"]
ATOM = "{http://www.w3.org/2005/Atom}"
ARTICLE_ID = re.compile(r"article/([0-9a-f]{32})")


def article(run: str, i: int, region: str, source: str) -> dict:
    minute = f"{i // 60:02d}:{i % 60:02d}"
    return {
        "source": "crash-test",
        "guid": f"{run}-{i}",
        "language": "zh-CN",
        "versionCreated": f"2026-11-27T10:{minute}+08:00",
        "firstCreated": f"2026-11-27T10:{minute}+08:00",
        "headlines": [{"value": f"第{i}条"}],
        "bodies": [{"value": f"<p>正文 {i}。</p>"}],
        "places": [{"name": region}],
        "infoSources": [{"name": source}],
    }


def pool_processes(stack) -> list[psutil.Process]:
    master = psutil.Process(stack.stack.procs["worker"].pid)
    return master.children()


def kill_pool(stack) -> dict[bytes, bytes]:
    """SIGKILL the Celery master's pool processes, while one holds a feed lease if that
    happens within a few seconds. Returns the leases held then ({key: token})."""
    r = stack.stack_redis()
    deadline = time.monotonic() + 5
    while not r.keys("newsflow:lock:feed:*") and time.monotonic() < deadline:
        time.sleep(0.005)
    victims = pool_processes(stack)
    assert len(victims) == stack.stack.concurrency
    held = r.keys("newsflow:lock:feed:*")
    tokens = dict(zip(held, r.mget(held), strict=True)) if held else {}
    for proc in victims:
        proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=10)
    return {key: token for key, token in tokens.items() if token is not None}


def wait_leases_free(stack, leases: dict[bytes, bytes]) -> float:
    """Seconds until no key holds a dead holder's token any more."""
    r, started = stack.stack_redis(), time.monotonic()
    while any(r.get(key) == token for key, token in leases.items()):
        assert time.monotonic() - started < 60, "a dead holder's lock outlived a minute"
        time.sleep(0.05)
    return time.monotonic() - started


def published(stack, run: str) -> int:
    with stack.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM articles WHERE guid LIKE :run AND status = 'published'"),
            {"run": f"{run}-%"},
        ).scalar()


def entry_ids(path: Path) -> list[str]:
    """The article ids of a feed document's entries, in document order."""
    data = path.read_bytes()
    if path.suffix == ".json":
        ids = [item["id"] for item in json.loads(data)["items"]]
    elif path.suffix == ".atom":
        ids = [e.findtext(f"{ATOM}id") for e in ET.fromstring(data).iter(f"{ATOM}entry")]
    else:
        ids = [item.findtext("guid") for item in ET.fromstring(data).iter("item")]
    return [ARTICLE_ID.search(i).group(1) for i in ids]


def archive_pages(archive: Path, fmt: str) -> list[Path]:
    return sorted(p for p in archive.glob(f"*.{fmt}") if not p.name.startswith("."))


def feed_documents(feeds_dir: Path, feed_key: str) -> dict[str, list[Path]]:
    """Per format: the feed's subscription document and its archive pages."""
    base = feeds_dir / feed_key
    return {
        fmt: [feeds_dir / f"{feed_key}.{fmt}", *archive_pages(base / "archive", fmt)]
        for fmt in ("rss", "atom", "json")
    }


def complete(feeds_dir: Path, want: set[str], size: int) -> bool:
    """Every article in the all feed's archive pages or its newest entries (the log's tail
    that does not fill a page yet is only there)."""
    try:
        archived = [
            i
            for page in archive_pages(feeds_dir / "all" / "archive", "atom")
            for i in entry_ids(page)
        ]
        current = entry_ids(feeds_dir / "all.atom")
    except (FileNotFoundError, ET.ParseError):
        return False
    return len(archived) == len(want) // size * size and set(archived) | set(current) == want


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crash_stack(request, redis_srv, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("crash")
    postgres = _postgres_database() if request.param == "postgresql" else None
    url = next(postgres) if postgres else f"sqlite:///{data_dir / 'newsflow.db'}"
    migrate.upgrade(url)
    env = {
        "NEWSFLOW_DATA_DIR": str(data_dir),
        "DATABASE_URL": url,
        "REDIS_URL": redis_srv.url.rsplit("/", 1)[0] + "/1",  # queues and locks of its own
        "FEED_PORT": str(free_port()),
        "INGEST_PORT": str(free_port()),
        "RELAY_INTERVAL": "0.2",
        "ARCHIVE_PAGE_SIZE": "20",
    }
    settings = Settings.from_env(env)
    stack = Stack(settings, concurrency=2)
    engine = make_engine(url)
    try:
        stack.start()
        key = localkeys.issue(
            stack.settings, "tests", list(SCOPES), TEST_SOURCES, localkeys.UNLIMITED
        )
        ISSUED_KEYS.append(key)
        yield RunningStack(stack, stack.settings, redis_srv, engine, key)
    finally:
        stack.stop()
        engine.dispose()
        if postgres:
            postgres.close()  # drops the database


@pytest.fixture
def quiet(crash_stack):
    crash_stack.reset()
    yield crash_stack
    # The killed pool processes were replaced: the worker works on.
    assert len(pool_processes(crash_stack)) == crash_stack.stack.concurrency


def test_killing_the_pool_twice_costs_seconds_and_duplicates_nothing(quiet):
    stack, run = quiet, uuid.uuid4().hex[:8]
    docs = [
        article(run, i, REGIONS[i % len(REGIONS)], SOURCES[i // 7 % len(SOURCES)])
        for i in range(ARTICLES)
    ]
    ids, orphaned = [], []
    with ThreadPoolExecutor(4) as pool:
        for third, kill in ((0, True), (1, True), (2, False)):
            batch = docs[third * ARTICLES // 3 : (third + 1) * ARTICLES // 3]
            posts = [pool.submit(stack.post, doc) for doc in batch]
            if kill:
                # Mid-batch, while the worker is busy rebuilding feeds: after the batch the
                # worker may have caught up, and no lock would be held to orphan.
                wait(posts[: len(posts) // 2])
                leases = kill_pool(stack)
                # A lock whose holder was killed is free again within the lease.
                assert wait_leases_free(stack, leases) <= locks.LEASE_S + 1
                orphaned.append(leases)
            for post in posts:
                resp = post.result()
                assert resp.status_code == 202, resp.text
                ids.append(resp.json()["id"])
    last_post = time.monotonic()
    assert any(orphaned), "neither kill found a feed lock held"

    while published(stack, run) < ARTICLES:
        assert time.monotonic() - last_post < 60, f"{published(stack, run)} published after 60 s"
        time.sleep(0.2)
    print(f"all {ARTICLES} published {time.monotonic() - last_post:.1f} s after the last POST")

    feeds_dir = stack.settings.artifacts_dir / "feeds"
    size = stack.settings.archive_page_size
    while not complete(feeds_dir, set(ids), size):
        assert time.monotonic() - last_post < 90, "the all feed and its archive lack articles"
        time.sleep(0.2)
    print(f"all feed complete {time.monotonic() - last_post:.1f} s after the last POST")
    stack.wait_idle()

    feed_keys = [keys.FEED_ALL]
    feed_keys += [keys.region_feed(name) for name in REGIONS]
    feed_keys += [keys.source_feed(name) for name in SOURCES]
    for feed_key in feed_keys:
        for fmt, paths in feed_documents(feeds_dir, feed_key).items():
            archived = Counter()
            for path in paths:
                in_doc = entry_ids(path)
                assert len(in_doc) == len(set(in_doc)), f"an entry twice in {path}"
                if path.parent.name == "archive":
                    archived.update(in_doc)
            twice = [i for i, n in archived.items() if n > 1]
            assert not twice, f"{feed_key} ({fmt}): {len(twice)} articles in two archive pages"
    # Every article exactly once in the all feed's archive pages, in every format.
    for fmt, paths in feed_documents(feeds_dir, keys.FEED_ALL).items():
        archived = [i for path in paths[1:] for i in entry_ids(path)]
        assert sorted(archived) == sorted(ids), fmt


def test_a_task_waiting_for_a_feed_lock_leaves_its_worker_slot_free(quiet):
    stack, run = quiet, uuid.uuid4().hex[:8]
    r = stack.stack_redis()
    first = article(run, 1, "湖北", "江城日报")
    second = article(run, 2, "湖南", "潇湘晨报")
    held = [
        locks.Lease(r, f"newsflow:lock:feed:{key}") for key in keys.feed_keys_for(first)
    ]  # all, region, source: what the first article's rebuilds need, held by "another worker"
    for lease in held:
        assert lease.acquire(wait=10)  # the all feed may still be rebuilding
    try:
        first_id = stack.post(first).json()["id"]
        stack.wait_status(first_id, "published", timeout=30)
        # Its three rebuilds now wait for the locks. Were they waiting in the worker's two
        # slots, nothing else would run until the locks came free.
        second_id = stack.post(second).json()["id"]
        stack.wait_status(second_id, "published", timeout=20)
        for lease in held:
            lease.check()  # still held: no rebuild of these feeds could have run
    finally:
        for lease in held:
            lease.release()
    feed = stack.settings.artifacts_dir / "feeds" / "all.atom"
    deadline = time.monotonic() + 30
    while not (feed.exists() and {first_id, second_id} <= set(entry_ids(feed))):
        assert time.monotonic() < deadline, "the waiting rebuilds never ran"
        time.sleep(0.1)
    region = stack.settings.artifacts_dir / "feeds" / f"{keys.region_feed('湖北')}.atom"
    deadline = time.monotonic() + 30
    while not (region.exists() and entry_ids(region) == [first_id]):
        assert time.monotonic() < deadline, "the waiting rebuild of the region never ran"
        time.sleep(0.1)


def test_a_withdrawal_waiting_for_a_feed_lock_reaches_the_archive_once_it_is_free(quiet):
    stack, run = quiet, uuid.uuid4().hex[:8]
    size = stack.settings.archive_page_size
    docs = [article(run, i, "江西", "赣报") for i in range(size)]  # fills archive page 1
    ids = [stack.post(doc).json()["id"] for doc in docs]
    page = stack.settings.artifacts_dir / "feeds" / keys.region_feed("江西") / "archive" / "1.atom"
    deadline = time.monotonic() + 60
    while not (page.exists() and sorted(entry_ids(page)) == sorted(ids)):
        assert time.monotonic() < deadline, "archive page 1 never filled"
        time.sleep(0.1)
    lease = locks.Lease(stack.stack_redis(), f"newsflow:lock:feed:{keys.region_feed('江西')}")
    assert lease.acquire(wait=10)  # a rebuild of the region may still be running
    try:
        stack.post({**docs[0], "pubStatus": "canceled"})
        stack.wait_status(ids[0], "withdrawn", timeout=20)
        # The withdrawal now waits for the region's lock, in the broker: the worker runs on.
        other = stack.post(article(run, size, "江苏", "扬子晚报")).json()["id"]
        stack.wait_status(other, "published", timeout=20)
        lease.check()
        assert ids[0] in entry_ids(page)
    finally:
        lease.release()
    deadline = time.monotonic() + 30
    while ids[0] in entry_ids(page):
        assert time.monotonic() < deadline, "the waiting withdrawal never reached the archive"
        time.sleep(0.1)
    assert sorted(entry_ids(page)) == sorted(ids[1:])


def test_a_countdown_never_outlives_the_visibility_timeout():
    # Redis hands an unacked message to another worker after the visibility timeout; a task
    # waiting for its countdown (a retry's backoff, a wait for a lease) must be back first,
    # or it runs twice.
    longest = max(
        *(opts["retry_backoff_max"] for opts in (tasks.RETRY, tasks.NOTIFY_RETRY)),
        tasks.LEASE_WAIT_MAX_S * 1.25,
    )
    assert longest + 120 < VISIBILITY_TIMEOUT_S
