"""The operator commands against the running system (real worker, Redis, store): status,
retry, rebuild, and backup → restore → rebuild giving back the same feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests
import sqlalchemy as sa
from werkzeug import Response

from shared.settings import Settings
from shared.tasknames import TASK_PROCESS_IMAGES
from tests.conftest import SEED
from tests.e2e.test_images_in_pipeline import with_picture
from tests.ingest.test_api_bad_input import article

pytestmark = pytest.mark.e2e

FEEDS = ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json")
PICTURE = SEED / "images" / "20180110154233_9f8e7d.jpg"


def newsflow(stack, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return cli(stack.settings, *args, timeout=timeout)


def cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``newsflow ARGS`` as an operator runs it, with these settings in its environment."""
    env = {**os.environ, **settings.to_env()}
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


class PictureHost:
    """A partner's picture host that answers 500 until it is fixed."""

    def __init__(self, httpserver) -> None:
        self.fixed = False
        self.url = httpserver.url_for("/only.jpg")
        httpserver.expect_request("/only.jpg").respond_with_handler(self.answer)

    def answer(self, _request) -> Response:
        if not self.fixed:
            return Response("upstream broke", status=500)
        return Response(PICTURE.read_bytes(), 200, content_type="image/jpeg")


def post_failing(stack, host: PictureHost) -> str:
    """An article whose only picture is on the broken host: the images step retries it (the
    test stack's budget: TASK_MAX_RETRIES=4, backoff capped at 2 s) and then gives up."""
    resp = stack.post(with_picture(host.url, headlines=[{"value": "图床坏了的文章"}]))
    assert resp.status_code == 202, resp.text
    article_id = resp.json()["id"]
    stack.wait_status(article_id, "failed", timeout=90)
    return article_id


def test_a_picture_host_answering_500_fails_its_article_with_the_reason(stack, httpserver):
    host = PictureHost(httpserver)
    article_id = post_failing(stack, host)
    reason = stack.status(article_id)["reason"]
    step = TASK_PROCESS_IMAGES.rsplit(".", 1)[-1]
    assert reason.startswith(f"{step} failed: FetchTransient")
    assert f"{host.url} answered 500" in reason
    # 1 + TASK_MAX_RETRIES fetches: the budget was spent, not cut short.
    assert len(httpserver.log) == 1 + stack.settings.task_max_retries
    shown = newsflow(stack, "status")
    assert f"failed    {article_id} tests/" in shown.stdout
    assert f"{host.url} answered 500" in shown.stdout


def test_retry_publishes_a_failed_article_once_its_picture_host_is_fixed(stack, httpserver):
    host = PictureHost(httpserver)
    article_id = post_failing(stack, host)
    host.fixed = True
    run = newsflow(stack, "retry", article_id)
    assert run.returncode == 0, run.stderr
    assert "retrying 1 article(s)" in run.stdout
    info = stack.wait_status(article_id, "published")
    assert info["reason"] is None
    assert info["images"] == {"img1": {"status": "ok"}}
    renditions = info["article"]["associations"]["img1"]["renditions"]
    assert renditions
    for r in renditions:
        resp = requests.get(r["href"], timeout=10)
        assert resp.status_code == 200 and len(resp.content) == r["sizeinbytes"]


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


def test_rebuild_all_after_a_restore_finishes_an_article_that_was_under_way(
    stack, httpserver, tmp_path
):
    asked, release = threading.Event(), threading.Event()

    def slow_picture(_request) -> Response:
        asked.set()
        release.wait(timeout=30)
        return Response(PICTURE.read_bytes(), 200, content_type="image/jpeg")

    httpserver.expect_request("/slow.jpg").respond_with_handler(slow_picture)
    resp = stack.post(with_picture(httpserver.url_for("/slow.jpg")))
    article_id = resp.json()["id"]
    assert asked.wait(timeout=30)  # its images step is under way: its task is in the broker
    dump = tmp_path / "store.jsonl"
    run = newsflow(stack, "backup", str(dump))
    release.set()
    assert run.returncode == 0, run.stderr
    stack.wait_status(article_id, "published")

    wipe(stack)  # a new host: the old broker, and the task in it, are gone
    assert newsflow(stack, "restore", str(dump)).returncode == 0
    assert stack.status(article_id)["status"] == "processing"
    run = newsflow(stack, "rebuild", "--all")
    assert run.returncode == 0, run.stderr
    info = stack.wait_status(article_id, "published")
    assert info["images"] == {"img1": {"status": "ok"}}


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
