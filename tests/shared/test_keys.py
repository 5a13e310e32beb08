"""Feed and media names every service agrees on (shared.keys)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.artifacts import NAME_MAX_BYTES, check_key
from shared.keys import (
    FEED_ALL,
    FEED_FORMATS,
    HASHED_PREFIX,
    SEGMENT_MAX_BYTES,
    archive_feed,
    archive_index_artifact,
    channel_page_artifact,
    channel_page_for,
    channel_path,
    feed_artifact,
    feed_for_path,
    feed_keys_for,
    feed_name,
    feed_path,
    media_uri,
    parse_media_uri,
    region_feed,
    source_feed,
    stored_segment,
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


# --- public paths and artifact keys ---------------------------------------------------------

LONG_CJK = "区" * 100  # 300 bytes in UTF-8: more than a file name holds


def test_feed_path_is_the_percent_encoded_artifact_path_for_a_plain_name():
    assert feed_path("region/内蒙", "rss") == "/feeds/region/%E5%86%85%E8%92%99.rss"


def test_channel_path_of_all_is_the_root():
    assert channel_path(FEED_ALL) == "/"


def test_channel_path_of_a_named_feed():
    assert channel_path("source/a b") == "/source/a%20b"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(FEED_FORMATS))
def test_property_public_path_is_unchanged_for_every_name(name, fmt):
    # The URL readers subscribe to is what it was before artifact keys and paths were
    # separated: the artifact path, percent-encoded.
    key = region_feed(name)
    assert feed_path(key, fmt) == "/" + quote(f"feeds/{key}.{fmt}")
    assert channel_path(key) == "/" + quote(key)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(FEED_FORMATS))
def test_property_artifact_key_is_unchanged_for_a_name_that_fits(name, fmt):
    key = region_feed(name)
    if len(feed_name(name).encode("utf-8")) <= SEGMENT_MAX_BYTES:
        assert feed_artifact(key, fmt) == f"feeds/{key}.{fmt}"
        assert channel_page_artifact(key) == f"pages/{key}.html"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(FEED_FORMATS))
def test_property_artifact_key_is_a_valid_file_path_with_room_for_siblings(name, fmt):
    key = feed_artifact(region_feed(name), fmt) + ".br"
    assert check_key(key) == key
    assert all(len(part.encode("utf-8")) <= NAME_MAX_BYTES for part in key.split("/"))


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(FEED_FORMATS))
def test_property_a_feed_path_maps_back_to_its_feed(name, fmt):
    key = source_feed(name)
    decoded = unquote(feed_path(key, fmt), errors="strict")
    assert feed_for_path(decoded.removeprefix("/feeds/")) == (key, fmt)


def test_a_long_name_is_stored_under_a_bounded_hash():
    key = feed_artifact(f"region/{LONG_CJK}", "atom")
    digest = hashlib.sha256(LONG_CJK.encode()).hexdigest()
    assert key == f"feeds/region/{HASHED_PREFIX}{digest}.atom"


def test_a_name_that_just_fits_keeps_its_own_file_name():
    name = "a" * SEGMENT_MAX_BYTES
    assert feed_artifact(f"region/{name}", "atom") == f"feeds/region/{name}.atom"


def test_a_name_one_byte_longer_is_hashed():
    name = "a" * (SEGMENT_MAX_BYTES + 1)
    assert feed_artifact(f"region/{name}", "atom").startswith(f"feeds/region/{HASHED_PREFIX}")


@pytest.mark.parametrize(
    "segment", ["", ".", "..", ".tmp-x", ".index", "a/b", "a\\b", "a\x00b", "a\nb", "\ud800"]
)
def test_an_unsafe_segment_is_hashed(segment):
    stored = stored_segment(segment)
    assert stored.startswith(HASHED_PREFIX) and len(stored) == len(HASHED_PREFIX) + 64
    assert check_key(f"feeds/{stored}") == f"feeds/{stored}"


def test_distinct_unsafe_segments_never_share_a_file():
    segments = ["", ".", "..", "...", "\x00", "\x01", "a" * 300, "a" * 301]
    assert len({stored_segment(s) for s in segments}) == len(segments)


@pytest.mark.parametrize("segment", ["-", "内蒙", "a b", "x.rss", "~", "a" * SEGMENT_MAX_BYTES])
def test_a_plain_segment_is_stored_as_it_is(segment):
    assert stored_segment(segment) == segment


def test_archive_pages_of_a_long_name_live_under_its_hashed_directory():
    stored = stored_segment(LONG_CJK)
    assert feed_artifact(archive_feed(f"region/{LONG_CJK}", 2), "rss") == (
        f"feeds/region/{stored}/archive/2.rss"
    )
    assert archive_index_artifact(f"region/{LONG_CJK}") == (
        f"feeds/region/{stored}/archive/.index.json"
    )


def test_archive_index_of_a_plain_feed_is_where_it_always_was():
    assert archive_index_artifact("all") == "feeds/all/archive/.index.json"


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("all.atom", ("all", "atom")),
        ("region/内蒙.rss", ("region/内蒙", "rss")),
        ("all/archive/3.json", ("all/archive/3", "json")),
        ("source/a/archive/12.rss", ("source/a/archive/12", "rss")),
        ("region/archive.rss", ("region/archive", "rss")),
        ("region/...rss", ("region/..", "rss")),  # a name taken as it is, never cleaned
        ("region/ 内蒙.rss", ("region/ 内蒙", "rss")),
    ],
)
def test_feed_for_path_finds_the_feed(path, found):
    assert feed_for_path(path) == found


@pytest.mark.parametrize(
    "path",
    [
        "",
        "all",
        "all.html",
        "all.rss.br",
        "nowhere/x.rss",
        "region.rss",
        "region/.rss",
        "region/a/b.rss",
        "all/archive/0.rss",
        "all/archive/01.rss",
        "all/archive/x.rss",
        "all/archive/.index.json",
        "all/archive/1234567890.rss",
        "../all.rss",
        "region/a\x00b.rss",
        "region/a\\b.rss",
        "source/\n.atom",
    ],
)
def test_feed_for_path_refuses_what_no_feed_is(path):
    assert feed_for_path(path) is None


def test_a_dot_dot_page_is_not_the_page_of_the_dash_region():
    assert channel_page_for("region", "..") != channel_page_artifact(region_feed(".."))


def test_a_padded_name_is_not_the_page_of_the_trimmed_name():
    assert channel_page_for("region", " 内蒙") != channel_page_artifact("region/内蒙")


def test_channel_page_for_a_plain_name():
    assert channel_page_for("source", "科协") == "pages/source/科协.html"


@pytest.mark.parametrize(
    ("kind", "name"), [("tag", "x"), ("region", ""), ("region", "a/b"), ("region", "a\x00")]
)
def test_channel_page_for_refuses_what_no_page_is(kind, name):
    assert channel_page_for(kind, name) is None
