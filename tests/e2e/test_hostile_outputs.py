"""Hostile values already in the store, through the real worker: a row no view can be made of
is left out of the feeds (its status says why) and the feeds go on; a row with hostile values
comes out clean. The door is not involved: the values are written into the store directly, as
an old row or a value that slipped past the door would be there."""

from __future__ import annotations

import json
import re
import uuid
from html.parser import HTMLParser

import feedparser
import jsonschema
import pytest
import requests
from sqlalchemy.orm import Session

from shared import keys
from shared.models import ArticleRow
from shared.tasknames import QUEUE_RENDER, TASK_RENDER_PAGE
from tests.conftest import FIXTURES

pytestmark = pytest.mark.e2e

FORMATS = ("atom", "rss", "json")
THIRD_PARTY = "http://third-party.example/pixel.gif"
HOSTILE_BODY = f'<p>乙文开头\x01。</p><img src="{THIRD_PARTY}"><p>乙文\ufffe继续。</p>'


def article(headline: str, day: int) -> dict:
    stamp = f"2017-12-{day:02d}T08:00:00+08:00"
    return {
        "source": "tests",
        "guid": f"hostile-outputs-{uuid.uuid4().hex}",
        "language": "zh-CN",
        "versionCreated": stamp,
        "firstCreated": stamp,
        "headlines": [{"value": headline}],
        "bodies": [{"value": f"<p>{headline}的正文。</p>"}],
        "infoSources": [{"name": "测试来源", "uri": "https://example.org/original"}],
    }


def hostile(doc: dict) -> dict:
    """What the probe found, in one stored document."""
    return {
        **doc,
        "headlines": [{"value": " \t "}],
        "bodies": [{"value": HOSTILE_BODY}],
        "uri": "javascript:alert(1)",
        "infoSources": [
            {"name": "测试来源", "uri": "javascript:alert(1)"},
            {
                "name": "门户",
                "role": "publisher",
                "contactInfo": [{"type": "email", "value": "x@y.cn?bcc=all@y.cn"}],
            },
        ],
        "copyrightNotice": "版权\x01所有\ufffe",
        "recommended": {
            "heading": "推荐资讯",
            "items": [{"headline": "推荐一", "uri": "javascript:1"}],
        },
    }


def post_published(stack, doc: dict) -> tuple[str, int]:
    resp = stack.post(doc)
    assert resp.status_code == 202, resp.text
    article_id, version = resp.json()["id"], resp.json()["version"]
    stack.wait_status(article_id, "published", version)
    return article_id, version


def corrupt(stack, article_id: str, **columns) -> None:
    with Session(stack.engine) as session, session.begin():
        row = session.get(ArticleRow, article_id)
        for name, value in columns.items():
            setattr(row, name, value)


@pytest.fixture(scope="module")
def scene(stack):
    stack.reset()
    broken, _ = post_published(stack, article("甲标题", 1))
    hostile_id, _ = post_published(stack, article("乙标题", 2))
    stack.wait_idle()
    # A published document no view can be made of; the editable doc stays readable.
    corrupt(stack, broken, published_doc=["not", "an", "article"])
    bad = hostile(article("乙标题", 2))
    corrupt(stack, hostile_id, doc=bad, published_doc=bad)
    # The next publication rebuilds the feeds through the real worker; with
    # ARCHIVE_PAGE_SIZE=3 its rebuild also writes the first archive page.
    later, _ = post_published(stack, article("丙标题", 3))
    for fmt in FORMATS:
        stack.wait_feed(f"/feeds/all.{fmt}", lambda b: "丙标题".encode() in b)
    stack.wait_idle()
    return {"broken": broken, "hostile": hostile_id, "later": later}


def feed_paths(fmt: str) -> list[str]:
    return [f"/{keys.feed_artifact(k, fmt)}" for k in ("all", keys.archive_feed("all", 1))]


def get(stack, path: str) -> bytes:
    resp = requests.get(f"{stack.feed}{path}", timeout=10)
    assert resp.status_code == 200, path
    return resp.content


def titles(stack, path: str) -> list[str]:
    data = get(stack, path)
    if path.endswith(".json"):
        return [i["title"] for i in json.loads(data)["items"]]
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
    return [e.title for e in parsed.entries]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_later_article_reaches_the_feed_and_its_archive_page(stack, scene, fmt):
    for path in feed_paths(fmt):
        assert titles(stack, path)[0] == "丙标题", path


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_unreadable_row_is_left_out_and_the_hostile_one_comes_out_clean(stack, scene, fmt):
    for path in feed_paths(fmt):
        assert titles(stack, path) == ["丙标题", "乙文开头。 乙文继续。"], path


def test_the_left_out_article_says_why_on_its_status(stack, scene):
    info = stack.status(scene["broken"])
    assert info["status"] == "published"
    # Each feed it is in says so; whichever rebuilt last is on the status.
    assert re.match(r"left out of feed (all|source/测试来源)(/archive/1)?: ", info["reason"])
    assert "view: AttributeError" in info["reason"]
    assert stack.status(scene["later"])["reason"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_hostile_link_image_or_character_reaches_a_feed(stack, scene, fmt):
    for path in feed_paths(fmt):
        data = get(stack, path)
        assert b"javascript" not in data and b"third-party" not in data, path
        text = data.decode("utf-8")
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", text), path
        assert "版权所有" in text, path  # the notice stays, without its control characters


def test_the_json_feeds_are_valid_json_feed(stack, scene):
    schema = json.loads((FIXTURES / "jsonfeed" / "schema-v1.1.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for path in feed_paths("json"):
        assert list(validator.iter_errors(json.loads(get(stack, path)))) == [], path


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [(tag, v) for k, v in attrs if k in ("href", "src", "srcset") and v]


def page_links(html: str) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(html)
    return parser.urls


def test_the_channel_page_shows_the_hostile_row_safely(stack, scene):
    html = get(stack, "/").decode("utf-8")
    assert "乙文开头。 乙文继续。" in html
    for tag, url in page_links(html):
        assert url.startswith(("http://", "https://")), (tag, url)


def test_an_article_page_rendered_from_the_hostile_row_is_safe(stack, scene):
    """The worker renders the page again from the hostile stored document."""
    from render.app import create_app

    row_version = stack.status(scene["hostile"])["version"]
    celery = create_app(stack.settings)
    celery.send_task(TASK_RENDER_PAGE, args=[scene["hostile"], row_version], queue=QUEUE_RENDER)
    path = f"/articles/{scene['hostile']}"
    html = stack.wait_feed(path, lambda b: "推荐一".encode() in b).decode("utf-8")
    stack.wait_idle()
    for tag, url in page_links(html):
        assert url.startswith(("http://", "https://", "mailto:")), (tag, url)
        assert tag != "img" or url.startswith(f"{stack.feed}/"), url
    assert "third-party" not in html and "mailto:" not in html
    assert '<dd class="original-link">javascript:alert(1)</dd>' in html  # the text stays
    assert "<li>推荐一</li>" in html and "版权所有" in html
