"""Feed and media names every service agrees on (shared.keys)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.keys import (
    FEED_ALL,
    feed_artifact,
    feed_keys_for,
    feed_name,
    media_uri,
    parse_media_uri,
    region_feed,
    source_feed,
)

SEED_LIKE = {
    "places": [{"name": "内蒙"}],
    "infoSources": [
        {"name": "内蒙古自治区科学技术协会", "role": "originalSource", "uri": "http://e.org/a"},
        {"name": "科技工作者之家", "role": "publisher", "contactInfo": []},
    ],
}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def test_feed_name_keeps_cjk():
    assert feed_name("内蒙古自治区科学技术协会") == "内蒙古自治区科学技术协会"


def test_feed_name_keeps_inner_spaces_and_ascii():
    assert feed_name("Shanghai Science Association") == "Shanghai Science Association"


def test_feed_name_replaces_slash():
    assert feed_name("科协/内蒙") == "科协-内蒙"


def test_feed_name_replaces_backslash():
    assert feed_name("科协\\内蒙") == "科协-内蒙"


def test_feed_name_replaces_control_characters():
    assert feed_name("科协\x00内\n\x7f蒙") == "科协-内-蒙"


def test_feed_name_trims_surrounding_spaces_and_dots():
    assert feed_name("  .内蒙. ") == "内蒙"


@pytest.mark.parametrize("name", ["", " ", ".", "..", "...", "/", "//", " . ", "\x00", "\u3000"])
def test_feed_name_is_never_empty_or_a_dot_segment(name):
    assert feed_name(name) not in ("", ".", "..")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_property_feed_name_is_one_safe_path_segment(name):
    out = feed_name(name)
    assert out not in ("", ".", "..")
    assert "/" not in out and "\\" not in out
    assert not CONTROL.search(out)


def test_region_and_source_feeds_are_prefixed():
    assert region_feed("内蒙") == "region/内蒙"
    assert source_feed("a/b") == "source/a-b"


def test_feed_keys_for_seed_like_doc():
    assert feed_keys_for(SEED_LIKE) == [
        "all",
        "region/内蒙",
        "source/内蒙古自治区科学技术协会",
    ]


def test_feed_keys_for_leaves_out_the_publisher():
    assert not any("科技工作者之家" in key for key in feed_keys_for(SEED_LIKE))


def test_feed_keys_for_deduplicates():
    doc = {
        "places": [{"name": "内蒙"}, {"name": " 内蒙 "}, {"name": "北京"}],
        "infoSources": [
            {"name": "北京市科学技术协会", "role": "originalSource"},
            {"name": "北京市科学技术协会"},  # role defaults to originalSource
        ],
    }
    assert feed_keys_for(doc) == ["all", "region/内蒙", "region/北京", "source/北京市科学技术协会"]


def test_feed_keys_for_bare_doc_is_only_all():
    assert feed_keys_for({}) == [FEED_ALL]


def test_feed_artifact_path():
    assert feed_artifact("region/内蒙", "rss") == "feeds/region/内蒙.rss"


def test_media_uri_round_trip():
    digest = hashlib.sha256(b"20171205013108_c8d4de.jpg").hexdigest()
    assert media_uri(digest) == f"urn:newsflow:media:sha256:{digest}"
    assert parse_media_uri(media_uri(digest)) == digest


GOOD = "a" * 64


@pytest.mark.parametrize(
    "uri",
    [
        "",
        f"urn:newsflow:media:sha256:{'A' * 64}",  # upper-case hex
        f"urn:newsflow:media:sha256:{'a' * 63}",
        f"urn:newsflow:media:sha256:{'a' * 65}",
        f"urn:newsflow:media:sha256:{'g' * 64}",
        f"urn:newsflow:media:sha1:{GOOD}",
        f"urn:other:media:sha256:{GOOD}",
        f"urn:newsflow:media:sha256:{GOOD}\n",
        f" urn:newsflow:media:sha256:{GOOD}",
        f"https://example.org/{GOOD}.jpg",
    ],
)
def test_parse_media_uri_refuses_malformed(uri):
    assert parse_media_uri(uri) is None
