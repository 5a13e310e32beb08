"""An embargo holds an article back on every public channel until its time, and the scheduler
releases it then, with no manual step, through worker and scheduler restarts (the real stack:
worker, relay, scheduler, ingest and feed as processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa

from newsflow import children
from tests.e2e.helpers_outputs import Names, unique_picture, upload, wait_shown_everywhere
from tests.e2e.helpers_outputs import where_shown as shown
from tests.ingest.test_api_bad_input import now_shanghai

pytestmark = pytest.mark.e2e


def until(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def with_picture(names: Names, uri: str, **overrides) -> dict:
    return names.doc(
        bodies=[{"value": '<p>前文。</p><figure data-association="img1"></figure><p>后文。</p>'}],
        associations={"img1": {"type": "picture", "uri": uri, "description": "禁发图片"}},
        **overrides,
    )


def get_status(stack, article_id: str, key: str) -> dict:
    resp = requests.get(
        f"{stack.ingest}/v1/articles/{article_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def picture_hrefs(info: dict) -> list[str]:
    return [r["href"] for r in info["article"]["associations"]["img1"]["renditions"]]


def wait_embargoed(stack, article_id: str, timeout: float = 30) -> None:
    stack.wait_status(article_id, "embargoed", timeout=timeout)


def wait_released(stack, article_id: str, version: int, timeout: float = 60) -> dict:
    return stack.wait_status(article_id, "published", version=version, timeout=timeout)


def test_an_embargoed_article_is_in_no_public_output_then_in_all(stack):
    names = Names.fresh("禁发")
    uri = upload(stack, unique_picture())
    doc = with_picture(names, uri, embargoedUntil=until(12))
    article_id = stack.post(doc).json()["id"]
    wait_embargoed(stack, article_id)
    plain = stack.new_partner(["admin"])
    seer = stack.new_partner(["admin", "embargo:read"])
    held = get_status(stack, article_id, plain)
    assert held["embargoed"] is True and held["article"] is None and held["pageUrl"] is None
    pictures = picture_hrefs(get_status(stack, article_id, seer))
    assert pictures
    # The feeds are rebuilt for other tests' articles meanwhile; none may carry this one.
    assert shown(stack, article_id, names, pictures) == []
    wait_shown_everywhere(stack, article_id, names, pictures, timeout=60)
    released = get_status(stack, article_id, plain)
    assert released["status"] == "published" and released["article"] is not None


def test_the_release_is_never_early(stack):
    names = Names.fresh("准时")
    due = datetime.now(UTC) + timedelta(seconds=6)
    article_id = stack.post(names.doc(embargoedUntil=due.isoformat())).json()["id"]
    wait_embargoed(stack, article_id)
    wait_released(stack, article_id, 1)
    with stack.engine.connect() as conn:
        published_at = conn.execute(
            sa.text("SELECT published_at FROM articles WHERE id = :i"), {"i": article_id}
        ).scalar()
    if isinstance(published_at, str):  # SQLite hands the column back as text here
        published_at = datetime.fromisoformat(published_at)
    assert published_at.replace(tzinfo=published_at.tzinfo or UTC) >= due


def test_a_held_update_keeps_the_public_version_live_until_its_release(stack):
    names = Names.fresh("更新")
    doc = names.doc(headlines=[{"value": "公开的版本"}])
    article_id = stack.post(doc).json()["id"]
    stack.wait_status(article_id, "published")
    feed = f"/feeds/region/{requests.utils.quote(names.region)}.atom"
    stack.wait_feed(feed, lambda b: "公开的版本".encode() in b)
    update = {
        **doc,
        "headlines": [{"value": "禁发的更新"}],
        "versionCreated": now_shanghai(),
        "embargoedUntil": until(10),
    }
    assert stack.post(update).json()["version"] == 2
    wait_embargoed(stack, article_id)
    page = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10)
    assert page.status_code == 200 and "公开的版本" in page.text and "禁发的更新" not in page.text
    body = requests.get(f"{stack.feed}{feed}", timeout=10).content
    assert "公开的版本".encode() in body and "禁发的更新".encode() not in body
    # The status answer shows a key without embargo:read the public version only.
    plain = get_status(stack, article_id, stack.new_partner(["admin"]))
    assert plain["embargoed"] is True and plain["publishedVersion"] == 1
    assert plain["article"]["headlines"][0]["value"] == "公开的版本"
    wait_released(stack, article_id, 2)
    stack.wait_feed(feed, lambda b: "禁发的更新".encode() in b and "公开的版本".encode() not in b)
    assert "禁发的更新" in requests.get(f"{stack.feed}/articles/{article_id}", timeout=10).text


def test_lifting_an_embargo_by_a_new_version_publishes_at_once(stack):
    names = Names.fresh("解禁")
    doc = names.doc(embargoedUntil=until(86400))
    article_id = stack.post(doc).json()["id"]
    wait_embargoed(stack, article_id)
    lifted = {k: v for k, v in doc.items() if k != "embargoedUntil"}
    assert stack.post({**lifted, "versionCreated": now_shanghai()}).json()["version"] == 2
    wait_released(stack, article_id, 2, timeout=30)


def test_moving_an_embargo_later_holds_the_article_until_the_new_time(stack):
    names = Names.fresh("推迟")
    doc = names.doc(embargoedUntil=until(4))
    article_id = stack.post(doc).json()["id"]
    moved_to = datetime.now(UTC) + timedelta(seconds=14)
    moved = {**doc, "versionCreated": now_shanghai(), "embargoedUntil": moved_to.isoformat()}
    assert stack.post(moved).json()["version"] == 2
    time.sleep(7)  # past the first time
    assert stack.status(article_id)["status"] == "embargoed"
    wait_released(stack, article_id, 2)
    assert datetime.now(UTC) >= moved_to


def test_moving_an_embargo_earlier_releases_at_the_new_time(stack):
    names = Names.fresh("提前")
    doc = names.doc(embargoedUntil=until(86400))
    article_id = stack.post(doc).json()["id"]
    wait_embargoed(stack, article_id)
    moved = {**doc, "versionCreated": now_shanghai(), "embargoedUntil": until(3)}
    assert stack.post(moved).json()["version"] == 2
    wait_released(stack, article_id, 2, timeout=30)


def restart(stack, name: str) -> None:
    """Stop a child as an operator would (SIGTERM to its group); the stack's supervisor
    starts it again."""
    old = stack.stack.procs[name]
    children.stop(old)
    deadline = time.monotonic() + 30
    while stack.stack.procs[name] is old or stack.stack.procs[name].poll() is not None:
        assert time.monotonic() < deadline, f"{name} was not restarted"
        time.sleep(0.1)


def test_the_release_survives_a_worker_and_a_scheduler_restart(stack):
    names = Names.fresh("重启")
    uri = upload(stack, unique_picture())
    article_id = stack.post(with_picture(names, uri, embargoedUntil=until(15))).json()["id"]
    wait_embargoed(stack, article_id)
    restart(stack, "worker")
    restart(stack, "scheduler")
    assert stack.status(article_id)["status"] == "embargoed"
    wait_released(stack, article_id, 1, timeout=90)
    pictures = picture_hrefs(stack.status(article_id))
    wait_shown_everywhere(stack, article_id, names, pictures, timeout=60)


def test_an_embargo_that_ends_while_redis_is_down_is_released_when_it_returns(stack):
    names = Names.fresh("断线")
    article_id = stack.post(names.doc(embargoedUntil=until(4))).json()["id"]
    wait_embargoed(stack, article_id)
    stack.wait_idle()
    stack.redis.stop()
    try:
        time.sleep(6)  # the embargo ends meanwhile: the release waits in the outbox
        assert stack.status(article_id)["status"] in ("queued", "embargoed")
    finally:
        stack.redis.start()
    wait_released(stack, article_id, 1, timeout=90)


def test_two_schedulers_release_each_article_once(stack):
    """A second `newsflow scheduler` process beside the stack's: every release is sent once
    (the render step reaches the outbox once per article; the first pass of an article
    sends its images step instead, so these rows are the scheduler's alone)."""
    second = children.popen(
        [sys.executable, "-m", "newsflow", "scheduler"],
        env={**os.environ, **stack.settings.to_env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        names = Names.fresh("双调度")
        due = until(8)
        ids = [stack.post(names.doc(embargoedUntil=due)).json()["id"] for _ in range(10)]
        for article_id in ids:
            wait_released(stack, article_id, 1)
    finally:
        children.stop(second)
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT args FROM outbox WHERE task = 'newsflow.render.article_page'")
        ).scalars()
        sent = [r if isinstance(r, dict) else json.loads(r) for r in rows]
    per_article = {i: sum(1 for a in sent if a["args"][0] == i) for i in ids}
    assert per_article == dict.fromkeys(ids, 1)


def test_a_scheduler_that_was_away_at_the_time_releases_on_its_return(stack):
    """Frozen (SIGSTOP) across the embargo's end: nothing else releases it, and the
    scheduler does at once when it runs again."""
    names = Names.fresh("冻结")
    article_id = stack.post(names.doc(embargoedUntil=until(3))).json()["id"]
    wait_embargoed(stack, article_id)
    scheduler = stack.stack.procs["scheduler"]
    os.kill(scheduler.pid, signal.SIGSTOP)
    try:
        time.sleep(6)
        assert stack.status(article_id)["status"] == "embargoed"
    finally:
        os.kill(scheduler.pid, signal.SIGCONT)
    wait_released(stack, article_id, 1, timeout=30)
