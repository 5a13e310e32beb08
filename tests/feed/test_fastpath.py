"""Feeds as pollers get them: pre-compressed, negotiated, validated, over real HTTP."""

from __future__ import annotations

import gzip
import urllib.request
from email.message import Message

import brotli
import pytest
import requests

from tests.feed.test_serving import published


def raw_get(url: str, **headers) -> tuple[int, Message, bytes]:
    """urllib does not decode Content-Encoding, so we see the bytes as sent."""
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture(scope="module")
def feed_url(stack):
    published(stack)
    return f"{stack.feed}/feeds/all.atom"


def test_brotli_is_preferred_when_accepted(feed_url):
    status, headers, body = raw_get(feed_url, **{"Accept-Encoding": "gzip, br"})
    assert status == 200
    assert headers["Content-Encoding"] == "br"
    assert brotli.decompress(body).startswith(b"<?xml")


def test_gzip_when_only_gzip_is_accepted(feed_url):
    _, headers, body = raw_get(feed_url, **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b"<?xml")


def test_identity_without_accept_encoding(feed_url):
    _, headers, body = raw_get(feed_url)
    assert "Content-Encoding" not in headers
    assert body.startswith(b"<?xml")
    assert int(headers["Content-Length"]) == len(body)


def test_a_refused_coding_is_not_sent(feed_url):
    _, headers, _ = raw_get(feed_url, **{"Accept-Encoding": "br;q=0, gzip"})
    assert headers["Content-Encoding"] == "gzip"


def test_every_answer_varies_on_accept_encoding_and_can_be_cached(feed_url):
    _, headers, _ = raw_get(feed_url)
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Cache-Control"] == "public, max-age=60"


def test_each_coding_has_its_own_strong_etag(feed_url):
    tags = {raw_get(feed_url, **{"Accept-Encoding": c})[1]["ETag"] for c in ("br", "gzip", "")}
    assert len(tags) == 3
    assert not any(t.startswith("W/") for t in tags)


def test_304_for_the_compressed_variant_it_was_sent(feed_url):
    _, headers, _ = raw_get(feed_url, **{"Accept-Encoding": "gzip"})
    status, headers304, body = raw_get(
        feed_url, **{"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]}
    )
    assert status == 304 and body == b""
    assert headers304["ETag"] == headers["ETag"]


def test_if_modified_since_in_the_future_is_a_304(feed_url):
    status, _, _ = raw_get(feed_url, **{"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert status == 304


def test_a_malformed_if_modified_since_is_ignored(feed_url):
    status, _, _ = raw_get(feed_url, **{"If-Modified-Since": "yesterday-ish"})
    assert status == 200


def test_head_answers_headers_without_a_body(feed_url):
    resp = requests.head(feed_url, timeout=10)
    assert resp.status_code == 200
    assert resp.content == b""
    assert int(resp.headers["Content-Length"]) > 0


def test_rss_ttl_agrees_with_cache_control(stack, feed_url):
    body = requests.get(f"{stack.feed}/feeds/all.rss", timeout=10).text
    assert "<ttl>1</ttl>" in body


def test_compressed_siblings_are_on_disk_for_static_servers(stack, feed_url):
    feeds = stack.settings.artifacts_dir / "feeds"
    assert (feeds / "all.atom.gz").exists() and (feeds / "all.atom.br").exists()
    plain = (feeds / "all.atom").read_bytes()
    assert gzip.decompress((feeds / "all.atom.gz").read_bytes()) == plain
