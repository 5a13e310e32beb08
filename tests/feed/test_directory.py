"""/feeds lists every feed as a page and as OPML; channels come from subjects."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import requests

from tests.feed.test_serving import published


def test_channel_feed_from_a_subject(stack):
    channel = f"科普{uuid.uuid4().hex[:6]}"
    article_id = published(stack, subjects=[{"name": channel}])
    path = requests.utils.quote(f"/feeds/channel/{channel}.json")
    body = stack.wait_feed(path, lambda b: article_id.encode() in b)
    assert channel.encode() in body


def test_feeds_page_lists_every_feed_in_every_format(stack):
    region = f"地区{uuid.uuid4().hex[:6]}"
    published(stack, places=[{"name": region}])
    page = requests.get(f"{stack.feed}/feeds", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert region in page.text
    quoted = requests.utils.quote(f"feeds/region/{region}")
    for fmt in ("atom", "rss", "json"):
        assert f"{quoted}.{fmt}" in page.text


def test_opml_lists_the_feeds_readers_can_import(stack):
    region = f"地区{uuid.uuid4().hex[:6]}"
    published(stack, places=[{"name": region}])
    resp = requests.get(f"{stack.feed}/feeds.opml", timeout=10)
    assert resp.headers["Content-Type"].startswith("text/x-opml")
    root = ET.fromstring(resp.content)
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline")]
    assert f"{stack.feed}/feeds/all.atom" in urls
    assert any(requests.utils.unquote(u).endswith(f"region/{region}.atom") for u in urls)
    for url in urls[:3]:
        assert requests.get(url, timeout=10).status_code == 200
