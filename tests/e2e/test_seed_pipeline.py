"""The four seed articles, imported by the real CLI into the running system, all the way to
the served feeds and pages."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import jsonschema
import pytest
import requests
import rfc3987

from tests.conftest import FIXTURES, SEED

pytestmark = pytest.mark.e2e

HEADLINES = {
    "学精神 担重任 高起点开启科协发展新征程",
    "呼和浩特举办青少年科技创新大赛 三百余件作品同台竞技",
    "科普进社区:防震减灾知识讲座走进海淀街道",
    "Science festival opens in Shanghai with a robotics showcase",
}
IMAST = "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html"


def newsflow_import(stack, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsflow", "import", "--api", stack.ingest, "--key", stack.key,
         *map(str, files)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def seeded(stack):
    stack.reset()
    result = newsflow_import(stack, *sorted(SEED.glob("*.txt")))
    assert result.returncode == 0, result.stdout + result.stderr
    ids = re.findall(r"created ([0-9a-f]{32}) version 1", result.stdout)
    assert len(ids) == 4, result.stdout
    for article_id in ids:
        stack.wait_status(article_id, "published")
    stack.wait_feed("/feeds/all.atom", lambda b: len(re.findall(rb"<entry[ >]", b)) == 4)
    stack.wait_idle()
    return ids


def parsed(stack, path: str):
    resp = requests.get(f"{stack.feed}{path}", timeout=10)
    assert resp.status_code == 200, path
    return feedparser.parse(resp.content)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_all_feed_holds_the_four_seed_headlines_exactly(stack, seeded, fmt):
    feed = parsed(stack, f"/feeds/all.{fmt}")
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert {e.title for e in feed.entries} == HEADLINES


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_every_entry_date_parses_with_the_shanghai_offset(stack, seeded, fmt):
    feed = parsed(stack, f"/feeds/all.{fmt}")
    for entry in feed.entries:
        assert entry.published_parsed is not None
    raw = requests.get(f"{stack.feed}/feeds/all.{fmt}", timeout=10).text
    stamp = "2017-12-04T00:00:00+08:00" if fmt == "atom" else "Mon, 04 Dec 2017 00:00:00 +0800"
    assert stamp in raw


def test_atom_entries_carry_original_link_author_and_region(stack, seeded):
    feed = parsed(stack, "/feeds/all.atom")
    entry = next(e for e in feed.entries if e.title.startswith("学精神"))
    assert entry.author == "李琳"
    assert {t.term for t in entry.tags} == {"内蒙"}
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == [IMAST]
    alternates = [link for link in entry.links if link.rel == "alternate"]
    assert len(alternates) == 1 and alternates[0].href.startswith(f"{stack.feed}/articles/")


def test_rss_items_carry_creator_source_link_and_rights(stack, seeded):
    raw = requests.get(f"{stack.feed}/feeds/all.rss", timeout=10).text
    feed = feedparser.parse(raw)
    entry = next(e for e in feed.entries if e.title.startswith("学精神"))
    assert entry.author == "李琳"
    assert entry.source.href == IMAST
    assert "<content:encoded>" in raw
    assert "除非特别注明" in entry.rights


def test_region_feed_holds_both_inner_mongolia_articles(stack, seeded):
    feed = parsed(stack, "/feeds/region/内蒙.atom")
    assert feed.bozo == 0
    assert len(feed.entries) == 2


def test_source_feed_is_keyed_by_the_source_organisation(stack, seeded):
    feed = parsed(stack, "/feeds/source/北京市科学技术协会.rss")
    assert [e.title for e in feed.entries] == ["科普进社区:防震减灾知识讲座走进海淀街道"]


def test_json_feed_lists_the_four_articles(stack, seeded):
    doc = requests.get(f"{stack.feed}/feeds/all.json", timeout=10).json()
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert {i["title"] for i in doc["items"]} == HEADLINES


def _page(stack, ids, headline_start: str) -> str:
    for article_id in ids:
        resp = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10)
        if headline_start in resp.text:
            return resp.text
    raise AssertionError(f"no page with {headline_start}")


def test_article_page_shows_every_paragraph_of_the_source(stack, seeded):
    page = _page(stack, seeded, "学精神")
    source = (SEED / "scimall-2017-12-04-imast.txt").read_text(encoding="utf-8")
    paragraphs = [line.strip() for line in source.splitlines() if line.startswith("  ")]
    assert len(paragraphs) == 11
    for text in paragraphs:
        assert text.removesuffix("(李琳") in page


def test_article_page_shows_section_headings_as_headings(stack, seeded):
    page = _page(stack, seeded, "学精神")
    for heading in (
        "加强政治引领,增强执政本领",
        "提高理论站位,务求工作实效",
        "强化责任担当,开启科协发展新征程",
    ):
        assert f"<h2>{heading}</h2>" in page


def test_article_page_shows_four_pictures_in_order_and_they_are_served(stack, seeded):
    page = _page(stack, seeded, "学精神")
    figures = re.findall(r'<figure class="picture">.*?<img src="([^"]+)"', page, flags=re.S)
    assert len(figures) == 4
    assert len(set(figures)) == 4
    for src in figures:
        resp = requests.get(src, timeout=10)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "image/jpeg"


def test_article_page_shows_source_original_link_and_rights(stack, seeded):
    page = _page(stack, seeded, "学精神")
    assert "内蒙古自治区科学技术协会" in page
    assert f'href="{IMAST}"' in page
    assert "除非特别注明,本站所载内容来源于互联网、微信公众号等公开渠道" in page
    assert "(010)86409582" in page and "kejie@scimall.org.cn" in page
    assert "推荐资讯" in page
    assert "李琳" in page


def test_reimporting_the_same_files_publishes_nothing_new(stack, seeded):
    before = requests.get(f"{stack.feed}/feeds/all.atom", timeout=10)
    result = newsflow_import(stack, *sorted(SEED.glob("*.txt")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("unchanged") == 4
    stack.wait_idle()
    after = requests.get(
        f"{stack.feed}/feeds/all.atom",
        timeout=10,
        headers={"If-None-Match": before.headers["ETag"]},
    )
    assert after.status_code == 304


def test_editing_one_paragraph_gives_version_two_and_one_updated_entry(stack, seeded, tmp_path):
    src = SEED / "scimall-2017-12-04-imast.txt"
    edited = tmp_path / src.name
    text = src.read_text(encoding="utf-8")
    edited.write_text(
        text.replace("领会十九大报告精神。", "领会十九大报告精神(已更正)。", 1), encoding="utf-8"
    )
    shutil.copytree(SEED / "images", tmp_path / "images")
    result = newsflow_import(stack, edited)
    assert result.returncode == 0, result.stdout + result.stderr
    article_id = re.search(r"updated ([0-9a-f]{32}) version 2", result.stdout).group(1)
    stack.wait_status(article_id, "published", version=2)
    body = stack.wait_feed("/feeds/all.atom", lambda b: "已更正".encode() in b)
    feed = feedparser.parse(body)
    assert len(feed.entries) == 4
    matching = [e for e in feed.entries if e.title.startswith("学精神")]
    assert len(matching) == 1
    assert "已更正" in matching[0].content[0].value


def every_feed_url(stack) -> list[str]:
    opml = ET.fromstring(requests.get(f"{stack.feed}/feeds.opml", timeout=10).content)
    atoms = [o.get("xmlUrl") for o in opml.iter("outline")]
    return [a.removesuffix(".atom") + f".{fmt}" for a in atoms for fmt in ("atom", "rss", "json")]


def test_every_demo_feed_is_valid_complete_and_absolute(stack, seeded):
    schema = json.loads((FIXTURES / "jsonfeed" / "schema-v1.1.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    stack.wait_idle()  # an earlier test's rebuilds must not change a feed between two GETs
    urls = every_feed_url(stack)
    assert len(urls) == 3 * 7  # all, three regions, three source organisations
    for url in urls:
        resp = requests.get(url, timeout=10)
        assert resp.status_code == 200, url
        if url.endswith(".json"):
            doc = resp.json()
            assert list(validator.iter_errors(doc)) == [], url
            bodies = [i["content_html"] for i in doc["items"]]
            ids = [i["id"] for i in doc["items"]]
        else:
            parsed = feedparser.parse(resp.content)
            assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
            assert all(e.published_parsed for e in parsed.entries), url
            bodies = [e.content[0].value for e in parsed.entries]
            ids = [e.id for e in parsed.entries] + [parsed.feed.get("id", "tag:none:x")]
        assert bodies, url
        # Ids are URIs, so ASCII (RFC 3986; a CJK feed name is percent-encoded, RFC 4151).
        assert all(rfc3987.match(i, rule="URI") for i in ids), (url, ids)
        for body in bodies:
            for ref in re.findall(r'(?:href|src)="([^"]+)"', body):
                assert ref.startswith(("http://", "https://", "mailto:")), (url, ref)
        again = requests.get(url, headers={"If-None-Match": resp.headers["ETag"]}, timeout=10)
        assert again.status_code == 304, url


def history_link(parsed, rel: str) -> str | None:
    return next((link.href for link in parsed.feed.get("links", []) if link.rel == rel), None)


def test_archive_links_walk_back_to_the_first_article(stack, seeded):
    """RFC 5005: prev-archive from the subscription feed, page by page (3 a page in tests)."""
    url, seen, pages = f"{stack.feed}/feeds/all.atom", set(), 0
    while url:
        resp = requests.get(url, timeout=10)
        assert resp.status_code == 200, url
        parsed = feedparser.parse(resp.content)
        assert parsed.bozo == 0, url
        seen |= {e.title for e in parsed.entries}
        url = history_link(parsed, "prev-archive")
        pages += 1
    assert pages >= 2
    assert "学精神 担重任 高起点开启科协发展新征程" in seen
    assert seen == HEADLINES


def test_archive_pages_say_so_and_are_cached_forever(stack, seeded):
    first = f"{stack.feed}/feeds/all/archive/1.atom"
    resp = requests.get(first, timeout=10)
    assert resp.status_code == 200
    assert b"<fh:archive/>" in resp.content
    assert "immutable" in resp.headers["Cache-Control"]
    parsed = feedparser.parse(resp.content)
    assert history_link(parsed, "current") == f"{stack.feed}/feeds/all.atom"
    assert history_link(parsed, "prev-archive") is None
    rss = requests.get(f"{stack.feed}/feeds/all/archive/1.rss", timeout=10)
    assert feedparser.parse(rss.content).bozo == 0


def test_json_feed_pages_back_with_next_url(stack, seeded):
    doc = requests.get(f"{stack.feed}/feeds/all.json", timeout=10).json()
    older = requests.get(doc["next_url"], timeout=10).json()
    assert older["items"]
    assert {i["title"] for i in doc["items"] + older["items"]} == HEADLINES
