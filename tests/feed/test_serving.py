"""The feed service over real HTTP: validators, 304s, content types, JSON errors, withdrawal."""

from __future__ import annotations

import uuid

import feedparser
import requests

from tests.ingest.test_api_bad_input import article


def published(stack, **overrides) -> str:
    resp = stack.post(article(**overrides))
    assert resp.status_code == 202, resp.text
    article_id = resp.json()["id"]
    stack.wait_status(article_id, "published")
    # Feeds are rebuilt by a task of their own after the page is published.
    stack.wait_feed("/feeds/all.atom", lambda b: article_id.encode() in b)
    return article_id


def test_feed_has_strong_etag_and_last_modified(stack):
    published(stack)
    resp = requests.get(f"{stack.feed}/feeds/all.atom", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert resp.headers["ETag"].startswith('"') and not resp.headers["ETag"].startswith("W/")
    assert "Last-Modified" in resp.headers


def test_conditional_get_with_etag_is_a_304_without_body(stack):
    published(stack)
    first = requests.get(f"{stack.feed}/feeds/all.rss", timeout=10)
    again = requests.get(
        f"{stack.feed}/feeds/all.rss", headers={"If-None-Match": first.headers["ETag"]}, timeout=10
    )
    assert again.status_code == 304
    assert again.content == b""


def test_conditional_get_with_last_modified_is_a_304(stack):
    published(stack)
    first = requests.get(f"{stack.feed}/feeds/all.json", timeout=10)
    again = requests.get(
        f"{stack.feed}/feeds/all.json",
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
        timeout=10,
    )
    assert again.status_code == 304


def test_a_stale_etag_gets_the_full_feed(stack):
    published(stack)
    resp = requests.get(
        f"{stack.feed}/feeds/all.atom", headers={"If-None-Match": '"stale"'}, timeout=10
    )
    assert resp.status_code == 200 and resp.content


def test_cjk_region_feed_url_works_percent_encoded(stack):
    region = f"测试{uuid.uuid4().hex[:6]}"
    published(stack, places=[{"name": region}])
    encoded = requests.utils.quote(f"/feeds/region/{region}.rss")
    stack.wait_feed(encoded, lambda b: b"<item>" in b)


def test_unknown_feed_is_a_json_404(stack):
    resp = requests.get(f"{stack.feed}/feeds/region/nowhere.atom", timeout=10)
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


def test_path_traversal_is_a_404(stack):
    resp = requests.get(f"{stack.feed}/feeds/..%2F..%2Fnewsflow.db.atom", timeout=10)
    assert resp.status_code == 404


def test_article_page_is_html_with_feed_discovery_links(stack):
    article_id = published(stack)
    resp = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10)
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    for kind in ("application/atom+xml", "application/rss+xml", "application/feed+json"):
        assert f'rel="alternate" type="{kind}"' in resp.text


def test_withdrawn_article_page_is_gone_and_leaves_the_feeds(stack):
    guid = f"withdraw-{uuid.uuid4().hex}"
    region = f"撤稿{uuid.uuid4().hex[:6]}"
    article_id = published(stack, guid=guid, places=[{"name": region}])
    feed_path = requests.utils.quote(f"/feeds/region/{region}.atom")
    stack.wait_feed(feed_path, lambda b: article_id.encode() in b)
    resp = stack.post(article(guid=guid, places=[{"name": region}], pubStatus="canceled"))
    assert resp.json()["version"] == 2
    stack.wait_status(article_id, "withdrawn")
    stack.wait_feed(feed_path, lambda b: article_id.encode() not in b)
    page = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10)
    assert page.status_code == 410
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"  # a page, not JSON


def test_a_withdrawn_article_leaves_the_archive_pages_it_was_in(stack):
    region = f"归档{uuid.uuid4().hex[:6]}"
    guids = [f"archived-{uuid.uuid4().hex}" for _ in range(3)]  # 3 fill a page in tests
    ids = [published(stack, guid=g, places=[{"name": region}]) for g in guids]
    page = f"/feeds/region/{region}/archive/1"
    for fmt in ("atom", "rss", "json"):
        path = requests.utils.quote(f"{page}.{fmt}")
        stack.wait_feed(path, lambda b: all(i.encode() in b for i in ids))
    stack.post(article(guid=guids[0], places=[{"name": region}], pubStatus="canceled"))
    stack.wait_status(ids[0], "withdrawn")
    for fmt in ("atom", "rss", "json"):
        path = requests.utils.quote(f"{page}.{fmt}")
        body = stack.wait_feed(path, lambda b: ids[0].encode() not in b)
        assert ids[1].encode() in body and ids[2].encode() in body


def test_a_withdrawal_reaches_the_archive_of_a_feed_the_article_had_left(stack):
    # Archived in region S, moved to region T by an update, then withdrawn: S's archive page
    # must lose it too, though the article is no longer a member of S.
    old, new = f"旧区{uuid.uuid4().hex[:6]}", f"新区{uuid.uuid4().hex[:6]}"
    guids = [f"moved-{uuid.uuid4().hex}" for _ in range(3)]
    ids = [published(stack, guid=g, places=[{"name": old}]) for g in guids]
    page = requests.utils.quote(f"/feeds/region/{old}/archive/1.atom")
    stack.wait_feed(page, lambda b: all(i.encode() in b for i in ids))
    moved = stack.post(article(guid=guids[0], places=[{"name": new}]))
    assert moved.json()["version"] == 2
    stack.wait_feed(
        requests.utils.quote(f"/feeds/region/{new}.atom"), lambda b: ids[0].encode() in b
    )
    stack.post(article(guid=guids[0], places=[{"name": new}], pubStatus="canceled"))
    stack.wait_status(ids[0], "withdrawn")
    body = stack.wait_feed(page, lambda b: ids[0].encode() not in b)
    assert ids[1].encode() in body and ids[2].encode() in body


def test_an_archive_page_links_the_next_one_once_it_exists(stack):
    # RFC 5005 next-archive: the oldest page has no prev-archive, so without it the W3C
    # validator warns "Archive incomplete".
    region = f"前后{uuid.uuid4().hex[:6]}"
    ids = [published(stack, places=[{"name": region}]) for _ in range(6)]  # two pages of 3
    base = stack.settings.public_base_url
    pages = [requests.utils.quote(f"/feeds/region/{region}/archive/{n}") for n in (1, 2)]
    second = stack.wait_feed(f"{pages[1]}.atom", lambda b: ids[5].encode() in b)
    first = stack.wait_feed(f"{pages[0]}.atom", lambda b: b"next-archive" in b)
    links = {(ln.rel, ln.href) for ln in feedparser.parse(first).feed.links}
    assert ("next-archive", f"{base}{pages[1]}.atom") in links
    assert not any(rel == "prev-archive" for rel, _ in links)
    assert all(i.encode() in first for i in ids[:3])
    links = {(ln.rel, ln.href) for ln in feedparser.parse(second).feed.links}
    assert ("prev-archive", f"{base}{pages[0]}.atom") in links
    assert not any(rel == "next-archive" for rel, _ in links)  # nothing newer archived yet
    rss = requests.get(f"{stack.feed}{pages[0]}.rss", timeout=10).content
    assert f'rel="next-archive" href="{base}{pages[1]}.rss"'.encode() in rss or (
        f'href="{base}{pages[1]}.rss" rel="next-archive"'.encode() in rss
    )


def test_health_reports_database_and_redis(stack):
    for base in (stack.feed, stack.ingest):
        body = requests.get(f"{base}/healthz", timeout=10).json()
        assert body == {"status": "ok", "database": "ok", "redis": "ok"}
