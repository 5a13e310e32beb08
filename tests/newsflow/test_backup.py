"""``newsflow backup`` on a store in use, and the move the docs promise (docs/operations.md,
"Move from SQLite to PostgreSQL"): the embedded SQLite store backed up, restored into an
empty PostgreSQL database, a second stack started on it (its own Redis, data dir and ports,
no artifacts), ``rebuild --all``, and every feed document it serves is byte for byte the one
the first stack serves."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug import Response

from newsflow.admin_cli import reader_engine
from newsflow.backup import backup, restore
from shared.db import make_engine
from shared.models import OutboxRow
from shared.settings import Settings
from tests.conftest import (
    RedisServer,
    free_port,
    migrated_store,
    running_stack,
    stack_env,
)
from tests.e2e.test_images_in_pipeline import with_picture
from tests.newsflow.test_admin import PICTURE, cli, post_published

pytestmark = pytest.mark.e2e

FEED_FORMATS = (".rss", ".atom", ".json")


def feed_paths(stack) -> list[str]:
    """Every feed document the stack has written: subscription documents and archive pages."""
    root = stack.settings.artifacts_dir / "feeds"
    return sorted(
        "/feeds/" + p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix in FEED_FORMATS and not p.name.startswith(".")
    )


def served(stack, paths: list[str]) -> dict[str, bytes]:
    got = {}
    for path in paths:
        resp = requests.get(
            f"{stack.feed}{path}", headers={"Accept-Encoding": "identity"}, timeout=10
        )
        assert resp.status_code == 200, f"{path}: {resp.status_code}"
        got[path] = resp.content
    return got


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store(request, tmp_path) -> Iterator[str]:
    """A migrated store of its own (no stack): what a backup reads is only this test's."""
    with migrated_store(request.param, tmp_path) as url:
        yield url


def test_a_backup_is_the_store_at_one_moment_and_writers_go_on(empty_store, tmp_path):
    writer = make_engine(empty_store, immediate=True)  # as ingest and the workers write
    with Session(writer) as session, session.begin():
        session.add_all(OutboxRow(task="t", args={"args": [i]}) for i in range(5))
    reader = reader_engine(Settings.from_env({"DATABASE_URL": empty_store}))  # the CLI's
    selects = 0

    @event.listens_for(reader, "before_cursor_execute")
    def write_mid_backup(_conn, _cursor, statement, *_args) -> None:
        nonlocal selects
        if statement.lstrip().startswith("SELECT") and "FROM outbox" in statement:
            selects += 1
            if selects == 2:  # between the first and second batch of the outbox
                with Session(writer) as session, session.begin():
                    session.add(OutboxRow(task="t", args={"args": ["late"]}))

    dump = tmp_path / "store.jsonl"
    counts = backup(reader, dump, batch=2)
    assert selects >= 2  # the write happened mid-way (and did not wait for the backup)
    assert counts["outbox"] == 5
    assert "late" not in dump.read_text()
    writer.dispose()
    reader.dispose()


@pytest.fixture
def postgres_url(tmp_path) -> Iterator[str]:
    with migrated_store("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def picture_host(httpserver) -> str:
    httpserver.expect_request("/photo.jpg").respond_with_handler(
        lambda _r: Response(PICTURE.read_bytes(), 200, content_type="image/jpeg")
    )
    return httpserver.url_for("/photo.jpg")


def test_a_sqlite_store_moves_to_postgresql_and_serves_the_same_feeds(
    stack, picture_host, postgres_url, tmp_path
):
    if stack.engine.dialect.name != "sqlite":
        pytest.skip("the move starts from the embedded SQLite store")
    stack.reset()
    for i in range(5):  # archive pages of 3 (the test stack's ARCHIVE_PAGE_SIZE): two pages
        post_published(stack, headlines=[{"value": f"搬家第{i}篇"}], places=[{"name": "内蒙"}])
    post_published(stack, **with_picture(picture_host, headlines=[{"value": "带图的一篇"}]))
    stack.wait_idle()
    paths = feed_paths(stack)
    assert "/feeds/all/archive/1.atom" in paths and "/feeds/region/内蒙.rss" in paths
    before = served(stack, paths)

    dump = tmp_path / "store.jsonl.gz"
    run = cli(stack.settings, "backup", str(dump))
    assert run.returncode == 0, run.stderr
    redis = RedisServer(free_port(), tmp_path / "redis")
    env = {
        **stack_env(postgres_url, redis.url, tmp_path / "data"),
        # What a host must keep: the public address (every link in a feed) and the key secret.
        "PUBLIC_BASE_URL": stack.settings.public_base_url,
        "NEWSFLOW_KEY_SECRET": stack.settings.key_secret,
    }
    run = cli(Settings.from_env(env), "restore", str(dump))
    assert run.returncode == 0, run.stderr
    engine = make_engine(postgres_url)
    try:
        with running_stack(env, redis, engine) as moved:
            run = cli(moved.settings, "rebuild", "--all")
            assert run.returncode == 0, run.stderr
            moved.wait_idle()
            after = served(moved, paths)
    finally:
        redis.stop()
        engine.dispose()
    assert after == before


def test_a_restore_into_sqlite_leaves_the_store_in_wal_mode(tmp_path):
    # The restore's one transaction runs with a rollback journal (flat memory at 10^6
    # articles); the services need WAL back (readers beside the writer).
    with (
        migrated_store("sqlite", tmp_path / "old") as old,
        migrated_store("sqlite", tmp_path / "new") as new,
    ):
        with Session(make_engine(old, immediate=True)) as session, session.begin():
            session.add_all(OutboxRow(task="t", args={"args": [i]}) for i in range(3))
        backup(make_engine(old), tmp_path / "store.jsonl.gz")
        engine = make_engine(new, immediate=True)
        assert restore(engine, tmp_path / "store.jsonl.gz")["outbox"] == 3
        engine.dispose()
        with sqlite3.connect(new.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
