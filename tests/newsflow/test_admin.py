"""The operator commands against the running system (real worker, Redis, store): status,
retry, rebuild, and backup → restore → rebuild giving back the same feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
import sqlalchemy as sa

from tests.ingest.test_api_bad_input import article

pytestmark = pytest.mark.e2e

FEEDS = ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json")


def newsflow(stack, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **stack.settings.to_env()}
    return subprocess.run(
        [sys.executable, "-m", "newsflow", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def post_published(stack, **overrides) -> str:
    resp = stack.post(article(**overrides))
    assert resp.status_code == 202, resp.text
    article_id = resp.json()["id"]
    stack.wait_status(article_id, "published")
    return article_id


def test_status_reports_states_queues_and_outbox(stack):
    stack.wait_idle()
    post_published(stack)
    run = newsflow(stack, "status", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    with stack.engine.connect() as conn:
        published = conn.execute(
            sa.text("SELECT count(*) FROM articles WHERE status = 'published'")
        ).scalar()
    assert report["articles"]["published"] == published >= 1
    assert set(report["queues"]) == {"images", "render", "feeds", "notify"}
    assert all(isinstance(n, int) for n in report["queues"].values())
    assert report["outbox"]["backlog"] == 0


def test_status_counts_embargoed_articles_and_names_the_next_release(stack):
    from datetime import UTC, datetime, timedelta

    until = datetime.now(UTC) + timedelta(days=3)
    resp = stack.post(article(embargoedUntil=until.isoformat()))
    article_id = resp.json()["id"]
    try:
        stack.wait_status(article_id, "embargoed")
        report = json.loads(newsflow(stack, "status", "--json").stdout)
        assert report["articles"]["embargoed"] >= 1
        assert report["embargoes"]["next"] is not None
        assert datetime.fromisoformat(report["embargoes"]["next"]) <= until
        assert report["embargoes"]["overdue"] == 0  # the stack's scheduler runs
    finally:
        requests.delete(f"{stack.ingest}/v1/articles/{article_id}", headers=stack.auth, timeout=10)


def test_retry_sends_a_failed_article_through_its_steps_again(stack):
    article_id = post_published(stack, headlines=[{"value": "重试的文章"}])
    with stack.writes() as session:
        session.execute(
            sa.text(
                "UPDATE articles SET status = 'failed', status_reason = 'images failed: "
                "host answered 500' WHERE id = :i"
            ),
            {"i": article_id},
        )
    shown = newsflow(stack, "status")
    assert f"failed    {article_id}" in shown.stdout and "host answered 500" in shown.stdout
    run = newsflow(stack, "retry", article_id)
    assert run.returncode == 0, run.stderr
    assert "retrying 1 article(s)" in run.stdout
    info = stack.wait_status(article_id, "published")
    assert info["reason"] is None


def test_retry_refuses_an_article_that_did_not_fail(stack):
    article_id = post_published(stack)
    run = newsflow(stack, "retry", article_id)
    assert run.returncode == 2
    assert f"{article_id} (published)" in run.stderr


def test_retry_needs_ids_or_failed(stack):
    run = newsflow(stack, "retry")
    assert run.returncode == 2 and "--failed" in run.stderr


def test_rebuild_feeds_writes_a_deleted_feed_again(stack):
    post_published(stack)
    stack.wait_idle()
    path = stack.settings.artifacts_dir / "feeds" / "all.atom"
    before = path.read_bytes()
    path.unlink()
    run = newsflow(stack, "rebuild", "--feeds")
    assert run.returncode == 0, run.stderr
    assert "the workers took them all" in run.stdout
    stack.wait_idle()
    assert path.read_bytes() == before


def served(stack) -> dict[str, bytes]:
    return {f: requests.get(f"{stack.feed}{f}", timeout=10).content for f in FEEDS}


def test_backup_restore_rebuild_gives_back_the_same_feeds(stack, tmp_path):
    stack.reset()
    ids = [post_published(stack, headlines=[{"value": f"备份第{i}篇"}]) for i in range(4)]
    stack.wait_idle()
    before = served(stack)
    assert all(i.encode() in before["/feeds/all.atom"] for i in ids)
    dump = tmp_path / "store.jsonl.gz"
    run = newsflow(stack, "backup", str(dump))
    assert run.returncode == 0, run.stderr

    wipe(stack)  # an empty store and no artifacts, as on a new host
    assert requests.get(f"{stack.feed}/feeds/all.atom", timeout=10).status_code == 404
    run = newsflow(stack, "restore", str(dump))
    assert run.returncode == 0, run.stderr
    assert "4 articles" in run.stdout
    run = newsflow(stack, "rebuild", "--all")
    assert run.returncode == 0, run.stderr
    stack.wait_idle()
    deadline = time.monotonic() + 60
    while served(stack) != before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert served(stack) == before


def wipe(stack) -> None:
    """Every table empty (partners and keys too: the backup brings them back) and no
    artifacts."""
    from shared.models import Base

    stack.reset()
    with stack.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def test_restore_refuses_a_store_that_is_not_empty(stack, tmp_path):
    post_published(stack)
    dump = tmp_path / "store.jsonl"
    assert newsflow(stack, "backup", str(dump)).returncode == 0
    run = newsflow(stack, "restore", str(dump))
    assert run.returncode == 2
    assert "not empty" in run.stderr


def test_restore_refuses_a_file_that_is_not_a_backup(stack, tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_text("hello\n")
    run = newsflow(stack, "restore", str(junk))
    assert run.returncode == 2
    assert "not a newsflow backup" in run.stderr
    assert "Traceback" not in run.stderr
