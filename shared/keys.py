"""Names of things every service agrees on: feed keys and artifact keys.

The URLs built from these are public contracts (readers subscribe to them), so they never change.
Names may be CJK; they are kept as UTF-8 on disk, so any static server maps the decoded URL
path straight to the file.
"""

from __future__ import annotations

import re

FEED_ALL = "all"
FEED_FORMATS = ("rss", "atom", "json")
# How long a poller may reuse a feed: Cache-Control max-age on the feed service and the RSS
# <ttl> (in minutes) say the same thing, so both come from here.
FEED_MAX_AGE = 60

_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]+")


def feed_name(name: str) -> str:
    """A tag or organisation name made safe as one path segment, otherwise as written."""
    cleaned = _UNSAFE.sub("-", name.strip()).strip(". ")
    return cleaned or "-"


def region_feed(name: str) -> str:
    return f"region/{feed_name(name)}"


def source_feed(name: str) -> str:
    return f"source/{feed_name(name)}"


def channel_feed(name: str) -> str:
    return f"channel/{feed_name(name)}"


FEED_KINDS = ("region", "source", "channel")


def feed_keys_for(doc: dict) -> list[str]:
    """Every feed an article belongs to: all, each region (place), its source organisation,
    each channel (subject)."""
    keys = [FEED_ALL]
    keys += [region_feed(p["name"]) for p in doc.get("places", [])]
    keys += [channel_feed(s["name"]) for s in doc.get("subjects", [])]
    keys += [
        source_feed(s["name"])
        for s in doc.get("infoSources", [])
        if s.get("role", "originalSource") == "originalSource"
    ]
    return list(dict.fromkeys(keys))


def feed_artifact(feed_key: str, fmt: str) -> str:
    return f"feeds/{feed_key}.{fmt}"


def archive_feed(feed_key: str, page: int) -> str:
    """The feed key of archive page ``page`` (1 = oldest) of a feed (RFC 5005)."""
    return f"{feed_key}/archive/{page}"


def page_artifact(article_id: str) -> str:
    return f"pages/articles/{article_id}.html"


def channel_page_artifact(feed_key: str) -> str:
    return f"pages/{feed_key}.html"


def source_media_artifact(sha256: str) -> str:
    return f"sources/{sha256[:2]}/{sha256}"


def media_uri(sha256: str) -> str:
    return f"urn:newsflow:media:sha256:{sha256}"


def parse_media_uri(uri: str) -> str | None:
    m = re.fullmatch(r"urn:newsflow:media:sha256:([0-9a-f]{64})", uri)
    return m.group(1) if m else None
