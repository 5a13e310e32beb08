"""The kinds of field with rules of their own (shared.schema): web URLs, names that become file
names, headlines, instants."""

from __future__ import annotations

import copy
import re

import pytest
from pydantic import ValidationError

from shared.schema import NAME_MAX_BYTES, ArticleIn
from tests.shared.test_schema_text import MEDIA, SAMPLE, get


def with_value(path: tuple, value) -> dict:
    doc = copy.deepcopy(SAMPLE)
    *parent, last = path
    get(doc, tuple(parent))[last] = value
    return doc


def refused_at(doc: dict) -> tuple:
    with pytest.raises(ValidationError) as info:
        ArticleIn.model_validate(doc)
    [error] = info.value.errors()
    return error["loc"]


# --- URLs ----------------------------------------------------------------------------------

URL_FIELDS = [
    ("uri",),
    ("infoSources", 0, "uri"),
    ("recommended", "items", 0, "uri"),
    ("subjects", 0, "uri"),
    ("places", 0, "uri"),
    ("associations", "img1", "uri"),
    ("associations", "img1", "renditions", 0, "href"),
]
BAD_URLS = {
    "javascript": "javascript:alert(1)",
    "javascript-upper": "JAVASCRIPT:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "vbscript": "vbscript:msgbox(1)",
    "file": "file:///etc/passwd",
    "ftp": "ftp://example.org/a.jpg",
    "relative": "/articles/1",
    "protocol-relative": "//evil.example/x",
    "no-host": "http:///path",
    "scheme-only": "https://",
    "space": "https://example.org/a b",
    "tab-in-scheme": "ht\ttp://example.org/",
    "newline": "https://example.org/\n",
    "leading-space": " https://example.org/",
    "nbsp": "https://example.org/\u00a0",
    "ideographic-space": "https://example.org/\u3000x",
    "del": "https://example.org/\x7f",
    "userinfo": "http://www.imast.org.cn@evil.example/",
    "bad-port": "http://example.org:99999999999/",
    "port-letters": "http://example.org:ab/",
    "bad-host": "http://exa mple.org/",
    "host-hyphen-label": "http://-bad-.example/",
    "host-empty-label": "http://a..example/",
    "bad-ipv6": "http://[::zz]/",
    "too-long": "https://example.org/" + "a" * 2100,
    "empty": "",
}
GOOD_URLS = {
    "http": "http://www.imast.org.cn/xwdt/kxyw/201712/t20171204_36630.html",
    "https-query-fragment": "https://example.org/a?b=1&c=%20#d",
    "upper-scheme": "HTTPS://EXAMPLE.ORG/",
    "port": "http://example.org:8080/x",
    "ipv4": "http://192.0.2.1/a.jpg",
    "ipv6": "http://[2001:db8::1]:8080/a.jpg",
    "idn": "http://中国科协.cn/",
    "cjk-path": "http://example.cn/新闻/一.html",
    "localhost": "http://localhost:8000/photo.jpg",
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
@pytest.mark.parametrize("path", URL_FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_url_field_refuses_what_is_no_absolute_web_url(path, url):
    assert refused_at(with_value(path, url)) == path


@pytest.mark.parametrize("url", GOOD_URLS.values(), ids=GOOD_URLS.keys())
@pytest.mark.parametrize("path", URL_FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_url_field_accepts_an_absolute_web_url_as_sent(path, url):
    parsed = ArticleIn.model_validate(with_value(path, url)).model_dump(mode="json")
    assert get(parsed, path) == url


def test_picture_accepts_our_media_urn():
    parsed = ArticleIn.model_validate(with_value(("associations", "img1", "uri"), MEDIA))
    assert parsed.associations["img1"].uri == MEDIA


@pytest.mark.parametrize(
    "urn",
    ["urn:newsflow:media:sha256:" + "A" * 64, "urn:newsflow:media:sha256:abc", "urn:isbn:1"],
)
def test_picture_refuses_another_urn(urn):
    assert refused_at(with_value(("associations", "img1", "uri"), urn)) == (
        "associations",
        "img1",
        "uri",
    )


def test_link_field_refuses_our_media_urn():
    # Only a picture's source may be an uploaded file; a link must open in a browser.
    assert refused_at(with_value(("uri",), MEDIA)) == ("uri",)


def test_url_refusal_says_what_is_accepted():
    with pytest.raises(ValidationError, match="only absolute http:// and https://"):
        ArticleIn.model_validate(with_value(("uri",), "javascript:alert(1)"))


# --- names that become file names ----------------------------------------------------------

NAME_FIELDS = [("places", 0, "name"), ("subjects", 0, "name"), ("infoSources", 0, "name")]
names = pytest.mark.parametrize("path", NAME_FIELDS, ids=lambda p: ".".join(map(str, p)))


def test_name_limit_leaves_room_for_the_longest_feed_file_name():
    assert NAME_MAX_BYTES + len(".atom.br") <= 255
    assert NAME_MAX_BYTES == 200


@names
def test_name_of_100_cjk_characters_is_refused_for_its_300_bytes(path):
    assert refused_at(with_value(path, "中" * 100)) == path


@names
def test_name_at_the_byte_limit_is_accepted(path):
    name = "中" * 66 + "ab"  # 198 + 2 bytes
    assert len(name.encode()) == NAME_MAX_BYTES
    assert get(ArticleIn.model_validate(with_value(path, name)).model_dump(), path) == name


@names
def test_name_one_byte_over_the_limit_is_refused(path):
    assert refused_at(with_value(path, "中" * 66 + "abc")) == path


@names
@pytest.mark.parametrize("name", [".", "..", " . . ", "\u3000.\u3000", "...\u200b"])
def test_name_of_only_dots_and_spaces_is_refused(path, name):
    assert refused_at(with_value(path, name)) == path


@names
def test_name_with_dots_inside_is_accepted(path):
    assert get(ArticleIn.model_validate(with_value(path, "a.b")).model_dump(), path) == "a.b"


# --- headlines -----------------------------------------------------------------------------

INVISIBLE = {
    "spaces": "   ",
    "ideographic-space": "\u3000\u3000",
    "zero-width-space": "\u200b",
    "bom": "\ufeff",
    "word-joiner-and-space": "\u2060 \u2060",
    "hangul-filler": "\u3164",
    "nbsp": "\u00a0",
    "thin-space": "\u2009",
}


@pytest.mark.parametrize("value", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_headline_without_a_visible_character_is_refused(value):
    path = ("headlines", 0, "value")
    assert refused_at(with_value(path, value)) == path


@pytest.mark.parametrize("value", ["a", "标", "\u3000标题\u3000", "😀", "1"])
def test_headline_with_a_visible_character_is_accepted(value):
    ArticleIn.model_validate(with_value(("headlines", 0, "value"), value))


def test_recommended_headline_without_a_visible_character_is_refused():
    path = ("recommended", "items", 0, "headline")
    assert refused_at(with_value(path, "\u3000")) == path


# --- instants ------------------------------------------------------------------------------

DATE_FIELDS = [("versionCreated",), ("firstCreated",), ("embargoedUntil",)]
dates = pytest.mark.parametrize("path", DATE_FIELDS, ids=lambda p: p[0])
OUT_OF_RANGE = {
    "year-1-ahead-of-utc": "0001-01-01T00:00:00+01:00",
    "year-9999-behind-utc": "9999-12-31T23:59:59-01:00",
    "last-day-utc": "9999-12-31T00:00:00Z",
    "before-1900": "1899-12-31T23:59:59Z",
    "before-1900-by-offset": "1900-01-01T00:30:00+01:00",
}


@dates
@pytest.mark.parametrize("value", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_instant_no_feed_format_can_write_is_refused(path, value):
    assert refused_at(with_value(path, value)) == path


@dates
@pytest.mark.parametrize("value", ["1900-01-01T00:00:00Z", "9999-12-30T00:00:00Z"])
def test_instant_at_the_range_edge_is_accepted(path, value):
    ArticleIn.model_validate(with_value(path, value))


def test_range_refusal_names_the_range():
    with pytest.raises(ValidationError, match=re.escape("1900-01-01..9999-12-30")):
        ArticleIn.model_validate(with_value(("versionCreated",), "0001-01-01T00:00:00+01:00"))


# --- lengths -------------------------------------------------------------------------------

LENGTHS = [(("guid",), 1000), (("associations", "img1", "filename"), 255)]


@pytest.mark.parametrize(("path", "limit"), LENGTHS, ids=lambda v: str(v))
def test_text_at_its_length_limit_is_accepted(path, limit):
    ArticleIn.model_validate(with_value(path, "g" * limit))


@pytest.mark.parametrize(("path", "limit"), LENGTHS, ids=lambda v: str(v))
def test_text_over_its_length_limit_is_refused(path, limit):
    assert refused_at(with_value(path, "g" * (limit + 1))) == path


def test_json_schema_states_the_enforced_lengths():
    schema = ArticleIn.model_json_schema()
    assert schema["properties"]["guid"]["maxLength"] == 1000
    assert schema["$defs"]["Named"]["properties"]["name"]["maxLength"] == NAME_MAX_BYTES


# --- contacts that become links ------------------------------------------------------------

CONTACT = ("infoSources", 0, "contactInfo", 0)


def with_contact(kind: str, value: str) -> dict:
    return with_value(CONTACT, {"type": kind, "value": value})


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "kejie@scimall.org.cn?body=hi"),
        ("email", "a@b.org, c@d.org"),
        ("email", "not an address"),
        ("web", "javascript:alert(1)"),
        ("web", "www.example.org"),
    ],
)
def test_contact_that_becomes_a_link_must_be_an_address(kind, value):
    assert refused_at(with_contact(kind, value)) == (*CONTACT, "value")


@pytest.mark.parametrize(
    ("kind", "value"),
    [("email", "kejie@scimall.org.cn"), ("web", "https://www.scimall.org.cn/"),
     ("phone", "(010)86409582")],
)  # fmt: skip
def test_contact_of_the_seed_kind_is_accepted(kind, value):
    ArticleIn.model_validate(with_contact(kind, value))
