"""The feed writers on the seed articles, without a worker: every format valid and complete."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import feedparser
import jsonschema
import pytest
from lxml import etree

from ingest.importers.scimall import parse
from render import view
from render.feeds import WRITERS, FeedView
from tests.conftest import FIXTURES, SEED
from tests.render.test_view_hostile import HOSTILE

BASE = "https://news.example.org"
MEDIA = {
    "img1": {
        "status": "ok",
        "width": 800,
        "height": 600,
        "placeholder": "#808080",
        "renditions": [
            {"name": "w320", "href": "media/abc/w320.jpg", "contenttype": "image/jpeg",
             "width": 320, "height": 240, "sizeinbytes": 1000},
            {"name": "w640", "href": "media/abc/w640.webp", "contenttype": "image/webp",
             "width": 640, "height": 480, "sizeinbytes": 2000},
        ],
    }
}  # fmt: skip


def seed_views() -> list[view.ArticleView]:
    views = []
    for i, path in enumerate(sorted(SEED.glob("*.txt"))):
        doc = parse(path.read_text(encoding="utf-8"), path.name).doc
        first = datetime.fromisoformat(doc["firstCreated"]).astimezone(UTC)
        views.append(view.build(f"{i:032x}", 1, doc, MEDIA, first, BASE))
    return views


@pytest.fixture(scope="module")
def feed() -> FeedView:
    return FeedView(
        key="all",
        title="newsflow",
        description="all articles",
        language=None,
        home_url=f"{BASE}/",
        self_urls={fmt: f"{BASE}/feeds/all.{fmt}" for fmt in WRITERS},
        id_authority="news.example.org,2026",
        site="newsflow",
        base=BASE,
        entries=seed_views(),
    )


# feedparser 6.0 has no JSON Feed reader; JSON Feed is checked on its own below.
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feedparser_reads_every_format_without_complaint(feed, fmt):
    parsed = feedparser.parse(WRITERS[fmt](feed))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == 4
    assert all(e.get("published_parsed") or e.get("updated_parsed") for e in parsed.entries)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_entry_ids_are_tag_uris_from_the_article_id(feed, fmt):
    parsed = feedparser.parse(WRITERS[fmt](feed))
    assert [e.id for e in parsed.entries] == [
        f"tag:news.example.org,2026:article/{e.id}" for e in feed.entries
    ]


def test_a_cjk_feed_name_is_percent_encoded_in_the_feed_id(feed):
    # RFC 4151: a tag URI is ASCII; the W3C validator reports raw CJK as InvalidTAG.
    region = dataclasses.replace(feed, key="region/内蒙")
    root = etree.fromstring(WRITERS["atom"](region))
    feed_id = root.findtext("{http://www.w3.org/2005/Atom}id")
    assert feed_id == "tag:news.example.org,2026:feed/region/%E5%86%85%E8%92%99"
    assert feed_id.isascii()
    assert json.loads(WRITERS["json"](region))["items"]  # the other writers still work


def test_atom_entry_links_keep_their_rel_and_type(feed):
    root = etree.fromstring(WRITERS["atom"](feed))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for entry in root.findall("a:entry", ns):
        rels = [(link.get("rel"), link.get("type")) for link in entry.findall("a:link", ns)]
        assert rels == [
            ("alternate", "text/html"),
            ("related", "text/html"),
            ("enclosure", "image/jpeg"),
        ]


def test_atom_enclosure_carries_the_real_byte_length(feed):
    root = etree.fromstring(WRITERS["atom"](feed))
    enclosures = root.findall(".//{http://www.w3.org/2005/Atom}link[@rel='enclosure']")
    assert [e.get("length") for e in enclosures] == ["1000"] * 4


def test_rss_lead_picture_is_an_enclosure_with_its_length(feed):
    root = etree.fromstring(WRITERS["rss"](feed))
    enclosures = root.findall(".//item/enclosure")
    assert len(enclosures) == 4
    assert {(e.get("length"), e.get("type")) for e in enclosures} == {("1000", "image/jpeg")}
    assert all(e.get("url").startswith(BASE) for e in enclosures)


def test_rss_pictures_in_media_rss_with_size_thumbnail_and_rights(feed):
    root = etree.fromstring(WRITERS["rss"](feed))
    m = "{http://search.yahoo.com/mrss/}"
    contents = root.findall(f".//item/{m}content")
    assert len(contents) == 4
    c = contents[0]
    assert (c.get("width"), c.get("height"), c.get("type")) == ("320", "240", "image/jpeg")
    assert c.find(f"{m}copyright").text.startswith("除非特别注明")


def test_every_feed_names_its_websub_hub(feed):
    hubbed = FeedView(**{**feed.__dict__, "hub_url": f"{BASE}/hub"})
    for fmt in ("rss", "atom"):
        assert f'href="{BASE}/hub" rel="hub"'.encode() in WRITERS[fmt](hubbed)


def test_atom_entries_say_their_language(feed):
    root = etree.fromstring(WRITERS["atom"](feed))
    langs = [e.get("{http://www.w3.org/XML/1998/namespace}lang") for e in root.iter("{*}entry")]
    assert sorted(langs) == ["en", "zh-CN", "zh-CN", "zh-CN"]


def test_atom_content_is_typed_html(feed):
    root = etree.fromstring(WRITERS["atom"](feed))
    types = {c.get("type") for c in root.iter("{http://www.w3.org/2005/Atom}content")}
    assert types == {"html"}


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feeds_link_to_themselves(feed, fmt):
    assert f'href="{BASE}/feeds/all.{fmt}" rel="self"'.encode() in WRITERS[fmt](feed)


def contents(feed, fmt) -> list[str]:
    if fmt == "json":
        return [i["content_html"] for i in json.loads(WRITERS["json"](feed))["items"]]
    return [e.content[0].value for e in feedparser.parse(WRITERS[fmt](feed)).entries]


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_no_relative_url_in_any_content(feed, fmt):
    for html in contents(feed, fmt):
        assert "<img" in html or "<p>" in html
        for url in re.findall(r'(?:href|src)="([^"]+)"', html):
            assert url.startswith(("http://", "https://", "mailto:")), url


def test_rss_channel_link_is_the_home_page(feed):
    root = etree.fromstring(WRITERS["rss"](feed))
    assert root.find("channel/link").text == f"{BASE}/"


def test_rss_never_writes_cst_and_uses_numeric_offsets(feed):
    rss = WRITERS["rss"](feed).decode()
    assert "CST" not in rss
    assert "+0800</pubDate>" in rss


def test_json_feed_is_valid_against_the_json_feed_1_1_schema(feed):
    schema = json.loads((FIXTURES / "jsonfeed" / "schema-v1.1.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = list(validator.iter_errors(json.loads(WRITERS["json"](feed))))
    assert errors == []
    assert list(validator.iter_errors({"version": "https://jsonfeed.org/version/1.1"}))


def test_json_feed_has_version_items_and_images(feed):
    doc = json.loads(WRITERS["json"](feed))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["id"] for i in doc["items"]] == [
        f"tag:news.example.org,2026:article/{e.id}" for e in feed.entries
    ]
    for item in doc["items"]:
        assert datetime.fromisoformat(item["date_published"]).utcoffset() is not None
    item = doc["items"][0]
    assert item["image"] == f"{BASE}/media/abc/w320.jpg"
    assert item["external_url"].startswith("http://")
    assert item["authors"][0]["name"]


def test_seed_byline_region_source_and_rights_reach_every_entry(feed):
    atom = feedparser.parse(WRITERS["atom"](feed))
    first = next(e for e in atom.entries if e.title.startswith("学精神"))
    assert first.author == "李琳"
    assert [t.term for t in first.tags] == ["内蒙"]
    assert first.rights.startswith("除非特别注明")


# Hostile values, in the view (however it was made) and in the feed's own names: every writer
# still gives well-formed XML that feedparser reads without complaint, and valid JSON Feed.
VIEW_STRINGS = [
    "id", "url", "headline", "language", "by", "body_html", "source_name", "original_link",
    "publisher", "rights", "usage_terms", "original_link_text",
]  # fmt: skip
FEED_STRINGS = ["key", "title", "description", "site", "id_authority"]


def hostile_view(name: str, value: str) -> view.ArticleView:
    seed = seed_views()[0]
    if name in ("caption", "credit"):
        image = dataclasses.replace(seed.images["img1"], **{name: value})
        return dataclasses.replace(seed, images={"img1": image})
    if name in ("regions", "subjects"):
        return dataclasses.replace(seed, **{name: [value, "内蒙"]})
    return dataclasses.replace(seed, **{name: value})


def assert_writes_cleanly(fv: FeedView) -> None:
    for fmt in ("rss", "atom"):
        data = WRITERS[fmt](fv)
        root = etree.fromstring(data)  # well-formed, or this raises
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, (fmt, parsed.get("bozo_exception"))
        assert len(parsed.entries) == len(fv.entries)
        assert all(e.title.strip() for e in parsed.entries)
        hrefs = [el.get("href") or el.get("url") for el in root.iter() if not callable(el.tag)]
        hrefs += [el.text for el in root.iter("link", "{*}link") if el.text]
        for href in filter(None, hrefs):
            assert href.startswith(("http://", "https://")), (fmt, href)
    schema = json.loads((FIXTURES / "jsonfeed" / "schema-v1.1.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    doc = json.loads(WRITERS["json"](fv))
    assert list(validator.iter_errors(doc)) == []
    for item in doc["items"]:
        for key in ("url", "external_url", "image", "banner_image"):
            assert item.get(key, "http://").startswith(("http://", "https://")), item[key]


@pytest.mark.parametrize("name", [*VIEW_STRINGS, "caption", "credit", "regions", "subjects"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_every_writer_writes_a_hostile_view_string_cleanly(feed, name, kind):
    bad = hostile_view(name, HOSTILE[kind])
    assert_writes_cleanly(dataclasses.replace(feed, entries=[*feed.entries, bad]))


@pytest.mark.parametrize("name", FEED_STRINGS)
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_every_writer_writes_a_hostile_feed_name_cleanly(feed, name, kind):
    assert_writes_cleanly(dataclasses.replace(feed, **{name: HOSTILE[kind]}))


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_javascript_original_link_reaches_no_feed(feed, fmt):
    bad = hostile_view("original_link", "javascript:alert(1)")
    data = WRITERS[fmt](dataclasses.replace(feed, entries=[bad]))
    assert b"javascript" not in data


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_third_party_image_in_a_body_reaches_no_feed(feed, fmt):
    body = '<p>x<img src="http://third-party.example/pixel.gif"></p>'
    data = WRITERS[fmt](dataclasses.replace(feed, entries=[hostile_view("body_html", body)]))
    assert b"third-party" not in data
