"""Pages from hostile stored values: parsed as a browser would, every href and src is http(s)
(or mailto: for an e-mail contact), every image is ours (so ``img-src 'self'`` holds), and the
text of a refused link is still on the page."""

from __future__ import annotations

import copy
import dataclasses
from html.parser import HTMLParser

import pytest

from render import pages
from render.feedbuild import feed_links
from tests.render.test_view_hostile import (
    BASE,
    DOC_PATHS,
    HOSTILE,
    IMAST,
    MEDIA,
    UNFIT,
    build,
    hostile_doc,
    path_id,
    seed_doc,
)

URL_ATTRS = {"href", "src", "srcset", "action", "formaction", "poster", "data"}


class Collected(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            self.attrs.append(name)
            if name in URL_ATTRS and value is not None:
                urls = [u.strip().split(" ")[0] for u in value.split(",")]
                self.urls += [(tag, name, u) for u in (urls if name == "srcset" else [value])]


def collected(html: str) -> Collected:
    parser = Collected()
    parser.feed(html)
    return parser


def assert_safe(html: str) -> None:
    found = collected(html)
    for tag, attr, url in found.urls:
        assert url.startswith(("http://", "https://", "mailto:")), (tag, attr, url)
        if url.startswith("mailto:"):
            assert (tag, attr) == ("a", "href"), (tag, attr, url)
        if tag in ("img", "source", "script", "iframe", "video", "audio"):
            assert url.startswith(f"{BASE}/"), (tag, attr, url)  # loads only from us
    assert not {"script", "iframe", "object", "embed", "video", "audio"} & set(found.tags)
    assert not [a for a in found.attrs if a.startswith("on")]
    assert not UNFIT.search(html)


@pytest.fixture(scope="module")
def env():
    return pages.make_env()


def article_page(env, v) -> str:
    return pages.render_article(env, v, BASE, feed_links(BASE, ["all", "region/内蒙"], "n"), "n")


@pytest.mark.parametrize("path", DOC_PATHS, ids=path_id)
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_stored_string_gives_a_safe_article_page(env, path, kind):
    assert_safe(article_page(env, build(hostile_doc(path, HOSTILE[kind]))))


def test_a_javascript_original_link_is_shown_as_text_not_as_a_link(env):
    doc = hostile_doc(("infoSources", 0, "uri"), "javascript:alert(1)")
    del doc["uri"]
    html = article_page(env, build(doc))
    assert_safe(html)
    assert '<dd class="original-link">javascript:alert(1)</dd>' in html
    assert 'rel="related"' not in html


def test_a_javascript_recommended_link_leaves_its_headline_on_the_page(env):
    html = article_page(env, build(hostile_doc(("recommended", "items", 0, "uri"), "javascript:1")))
    assert_safe(html)
    assert "<li>推荐一</li>" in html


def test_an_email_contact_that_is_no_address_is_not_a_mailto_link(env):
    value = "x@y.cn?bcc=all@y.cn"
    html = article_page(
        env, build(hostile_doc(("infoSources", 1, "contactInfo", 1, "value"), value))
    )
    assert "mailto:" not in html
    assert f'<dd class="contact">{value}</dd>' in html


def test_a_third_party_image_in_the_stored_body_is_not_on_the_page(env):
    body = '<p>前</p><img src="http://third-party.example/t.gif"><p>后</p>'
    html = article_page(env, build(hostile_doc(("bodies", 0, "value"), body)))
    assert_safe(html)
    assert "third-party" not in html and "前" in html and "后" in html


def test_a_hostile_placeholder_and_rendition_reach_no_attribute(env):
    media = copy.deepcopy(MEDIA)
    media["img1"]["placeholder"] = "red;background:url(https://third-party.example/x)"
    media["img2"]["renditions"][0]["href"] = "https://third-party.example/w320.jpg"
    html = article_page(env, build(seed_doc(), media))
    assert_safe(html)
    assert "third-party" not in html


def test_the_seed_article_page_keeps_its_whole_trailer(env):
    html = article_page(env, build(seed_doc()))
    assert_safe(html)
    assert f'<a href="{IMAST}" rel="noopener">{IMAST}</a>' in html
    assert '<a href="mailto:kejie@scimall.org.cn">kejie@scimall.org.cn</a>' in html
    for text in ("内蒙古自治区科学技术协会", "除非特别注明", "(010)86409582", "推荐资讯", "内蒙"):
        assert text in html
    assert len([u for t, a, u in collected(html).urls if (t, a) == ("img", "src")]) == 4


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_channel_name_and_entry_give_a_safe_channel_page(env, kind):
    name = f"内蒙{HOSTILE[kind]}"
    entries = [build(hostile_doc(("headlines", 0, "value"), HOSTILE[kind])), build(seed_doc())]
    links = feed_links(BASE, [f"region/{name}"], name)
    html = pages.render_channel(env, f"{name} · n", entries, links, BASE, "n")
    assert_safe(html)
    assert html.count('<li lang="zh-CN">') == 2


def test_a_feed_link_that_is_not_http_is_left_off_the_page(env):
    bad = pages.FeedLink("x", "javascript:alert(1)", "application/atom+xml")
    good = pages.FeedLink("y", f"{BASE}/feeds/all.atom", "application/atom+xml")
    html = pages.render_channel(env, "t", [], [bad, good], BASE, "n")
    assert "javascript" not in html and f"{BASE}/feeds/all.atom" in html


def test_a_view_made_directly_with_hostile_values_gives_a_safe_page(env):
    v = dataclasses.replace(
        build(seed_doc()),
        url="javascript:alert(1)",
        original_link="javascript:alert(2)",
        original_link_text=None,
        language='zh" onload="alert(1)',
        body_html='<p>x</p><img src="https://third-party.example/a.png">',
        contacts=[{"type": "email", "value": "a@b.cn\x01"}, {"type": "web", "value": "data:x"}],
    )
    html = article_page(env, v)
    assert_safe(html)
    assert '<html lang="und">' in html
