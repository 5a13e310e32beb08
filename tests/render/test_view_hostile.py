"""The view model treats every stored value as untrusted: whatever a row holds (an old row, a
value that slipped past the door), the view carries only text XML 1.0 can hold, links a reader
may follow (http/https, mailto: for a plausible address) and a body that loads nothing from a
third party. These tests write hostile values straight into a stored document."""

from __future__ import annotations

import copy
import dataclasses
import re
from datetime import UTC, datetime

import pytest

from ingest.importers.scimall import parse
from render import view
from tests.conftest import SEED

BASE = "https://news.example.org"
IMAST = "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html"
# What the probe found, and the other ways text breaks XML or runs script.
HOSTILE = {
    "c0": "bad\x01value\x0bhere",
    "nonchar": "bad\ufffevalue\uffffhere",
    "surrogate": "bad\ud800value",
    "c1": "bad\x85value",
    "cdata_end": "x]]>y",
    "markup": "<script>alert(1)</script>\"'&<img src=x onerror=alert(1)>",
    "javascript": "javascript:alert(1)",
    "blank": " \t\u3000\u200b ",
}
UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
MEDIA = {
    f"img{i}": {
        "status": "ok", "width": 800, "height": 600, "placeholder": "#808080",
        "renditions": [
            {"name": "w320", "href": f"media/s{i}/w320.jpg", "contenttype": "image/jpeg",
             "width": 320, "height": 240, "sizeinbytes": 1000},
            {"name": "thumb", "href": f"media/s{i}/thumb.jpg", "contenttype": "image/jpeg",
             "width": 100, "height": 75, "sizeinbytes": 300},
        ],
    }
    for i in range(1, 5)
}  # fmt: skip
# Every string of a stored document that reaches a page or a feed, by path.
DOC_PATHS = [
    ("headlines", 0, "value"),
    ("bodies", 0, "value"),
    ("by",),
    ("language",),
    ("uri",),
    ("copyrightNotice",),
    ("usageTerms",),
    ("infoSources", 0, "name"),
    ("infoSources", 0, "uri"),
    ("infoSources", 1, "name"),
    ("infoSources", 1, "contactInfo", 0, "value"),
    ("infoSources", 1, "contactInfo", 1, "value"),
    ("infoSources", 1, "contactInfo", 1, "type"),
    ("places", 0, "name"),
    ("subjects", 0, "name"),
    ("recommended", "heading"),
    ("recommended", "items", 0, "headline"),
    ("recommended", "items", 0, "uri"),
    ("associations", "img1", "description"),
    ("associations", "img1", "creditline"),
]


def path_id(path: tuple) -> str:
    return "/".join(map(str, path))


def seed_doc() -> dict:
    path = sorted(SEED.glob("*.txt"))[0]  # the imast article: every trailer part
    doc = parse(path.read_text(encoding="utf-8"), path.name).doc
    doc["subjects"] = [{"name": "科普"}]
    doc["usageTerms"] = "仅供参考"
    doc["recommended"]["items"] = [{"headline": "推荐一", "uri": "https://example.org/1"}]
    return doc


def hostile_doc(path: tuple, value: str) -> dict:
    doc = copy.deepcopy(seed_doc())
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def build(doc: dict, media: dict | None = None) -> view.ArticleView:
    first = datetime(2017, 12, 3, 16, tzinfo=UTC)
    return view.build("0" * 31 + "a", 1, doc, MEDIA if media is None else media, first, BASE)


def strings(value) -> list[str]:
    """Every string a view holds, however deep."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in strings(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return []


def links(v: view.ArticleView) -> list[str]:
    out = [v.url, v.original_link] + [c.href for c in v.contacts]
    out += [i.uri for i in v.recommended.items] if v.recommended else []
    out += [r["href"] for i in v.images.values() for r in i.renditions]
    out += re.findall(r'(?:href|src)="([^"]*)"', v.body_html)
    return [u for u in out if u is not None]


@pytest.mark.parametrize("path", DOC_PATHS, ids=path_id)
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_no_stored_string_brings_unfit_characters_into_the_view(path, kind):
    v = build(hostile_doc(path, HOSTILE[kind]))
    assert [s for s in strings(v) if UNFIT.search(s)] == []
    assert v.headline.strip()


@pytest.mark.parametrize("path", DOC_PATHS, ids=path_id)
@pytest.mark.parametrize("kind", ["javascript", "markup", "c0"])
def test_every_link_of_the_view_is_http_or_mailto(path, kind):
    v = build(hostile_doc(path, HOSTILE[kind]))
    for url in links(v):
        assert url.startswith(("http://", "https://", "mailto:")), url
        assert not re.search(r"[\s\"<>]", url), url


@pytest.mark.parametrize("path", [("uri",), ("infoSources", 0, "uri")], ids=path_id)
def test_a_javascript_original_link_is_no_link_but_its_text_stays(path):
    doc = hostile_doc(path, "javascript:alert(1)")
    if path == ("uri",):
        del doc["infoSources"][0]["uri"]
    v = build(doc)
    assert v.original_link is None
    assert v.original_link_text == "javascript:alert(1)"


def test_a_javascript_recommended_link_keeps_its_headline_as_text():
    v = build(hostile_doc(("recommended", "items", 0, "uri"), "javascript:alert(1)"))
    assert [(i.headline, i.uri) for i in v.recommended.items] == [("推荐一", None)]


@pytest.mark.parametrize(
    "address",
    ["x@y.cn?subject=spam", "javascript:alert(1)//@x.cn", "a b@x.cn", "no-at-sign", "a@b"],
)
def test_an_implausible_email_contact_is_shown_as_text_only(address):
    v = build(hostile_doc(("infoSources", 1, "contactInfo", 1, "value"), address))
    email = next(c for c in v.contacts if c.type == "email")
    assert (email.value, email.href) == (address, None)


def test_a_plausible_email_contact_links_mailto():
    email = next(c for c in build(seed_doc()).contacts if c.type == "email")
    assert email.href == "mailto:kejie@scimall.org.cn"


def test_the_seed_trailer_comes_through_unchanged():
    v = build(seed_doc())
    assert v.original_link == v.original_link_text == IMAST
    assert v.source_name == "内蒙古自治区科学技术协会"
    assert v.rights.startswith("除非特别注明")
    assert [(c.type, c.value) for c in v.contacts] == [
        ("phone", "(010)86409582"),
        ("email", "kejie@scimall.org.cn"),
    ]
    assert v.regions == ["内蒙"] and v.recommended.heading == "推荐资讯"
    assert v.image_order == ["img1", "img2", "img3", "img4"]


@pytest.mark.parametrize("blank", [" ", "\t\u3000", "\u200b", "\x01\x0b"])
def test_a_headline_with_nothing_visible_falls_back_to_the_summary(blank):
    v = build(hostile_doc(("headlines", 0, "value"), blank))
    assert v.headline.startswith("为深入学习宣传贯彻党的十九大精神")
    assert len(v.headline) <= view.HEADLINE_FALLBACK_LENGTH


def test_a_headline_with_no_text_and_no_body_text_falls_back_to_the_id():
    doc = hostile_doc(("headlines", 0, "value"), " ")
    doc["bodies"][0]["value"] = "<p> </p>"
    assert build(doc).headline == "0" * 31 + "a"


@pytest.mark.parametrize(
    "src",
    [
        "http://third-party.example/pixel.gif",
        "https://third-party.example/a.jpg",
        "//third-party.example/a.jpg",
        "https://news.example.org.evil.example/a.jpg",
        "data:image/png;base64,iVBORw0KGgo=",
    ],
)
def test_a_foreign_image_in_the_stored_body_is_removed(src):
    v = build(hostile_doc(("bodies", 0, "value"), f'<p>前<img src="{src}" alt="x>y">后</p>'))
    assert "<img" not in v.body_html
    assert "前" in v.body_html and "后" in v.body_html


def test_an_image_of_our_own_in_the_body_stays_with_an_absolute_url():
    v = build(hostile_doc(("bodies", 0, "value"), '<p><img src="/media/abc/w320.jpg" alt=""></p>'))
    assert f'<img src="{BASE}/media/abc/w320.jpg"' in v.body_html


@pytest.mark.parametrize(
    "body",
    [
        '<p><a href="javascript:alert(1)">x</a></p>',
        '<p><a href="jav&#x09;ascript:alert(1)">x</a></p>',
        "<p><script>alert(1)</script>x</p>",
        '<p onclick="alert(1)">x</p>',
        '<iframe src="https://third-party.example/"></iframe><p>x</p>',
        '<p><video src="https://third-party.example/v.mp4"></video>x</p>',
    ],
)
def test_active_content_in_the_stored_body_is_dropped_at_output(body):
    v = build(hostile_doc(("bodies", 0, "value"), body))
    assert re.search(r"javascript|<script|onclick|<iframe|<video|third-party", v.body_html) is None
    assert "x" in v.body_html


def test_a_placeholder_colour_cannot_break_out_of_its_style_attribute():
    media = copy.deepcopy(MEDIA)
    media["img1"]["placeholder"] = '#fff" onload="alert(1)'
    assert build(seed_doc(), media).images["img1"].placeholder == "#ccc"


@pytest.mark.parametrize(
    "href", ["https://third-party.example/w320.jpg", "javascript:alert(1)", "//evil.example/x"]
)
def test_a_rendition_not_on_our_base_url_is_not_shown(href):
    media = copy.deepcopy(MEDIA)
    for r in media["img1"]["renditions"]:
        r["href"] = href
    v = build(seed_doc(), media)
    assert "img1" not in v.images and v.image_order == ["img2", "img3", "img4"]


def test_a_mistyped_stored_document_reads_as_absent_parts():
    doc = seed_doc()
    doc.update(infoSources="x", places=[1, None], recommended=["x"], associations=[])
    v = build(doc)
    assert (v.source_name, v.regions, v.recommended, v.contacts) == (None, [], None, [])


def test_a_view_made_directly_is_cleaned_as_well():
    v = dataclasses.replace(
        build(seed_doc()),
        original_link="javascript:alert(1)",
        original_link_text=None,
        rights="a\x01b",
        regions=["\ufffe", "内蒙\x0b"],
    )
    assert (v.original_link, v.original_link_text) == (None, "javascript:alert(1)")
    assert (v.rights, v.regions) == ("ab", ["内蒙"])
