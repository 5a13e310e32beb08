"""Names of things every service agrees on: feed keys, their public paths and artifact keys.

A feed key (``region/内蒙``) names a feed in the store and in Redis. From it come two things:

- its public path (``/feeds/region/%E5%86%85%E8%92%99.rss``, ``/region/…``): a public contract
  (readers subscribe to it), so it never changes for a name that works;
- its artifact key (``feeds/region/内蒙.rss``): the file it is written to. For a plain name it
  is the decoded public path, UTF-8 on disk, so any static server can serve the tree. A name
  that cannot be one file name (longer than ``SEGMENT_MAX_BYTES`` in UTF-8, a leading dot, a
  dot segment, a character a path cannot hold) is stored under a hash of the name instead:
  ``.h-<sha256>``. Plain names never start with a dot, so the two never collide.

A request path is mapped to an artifact key literally (``feed_for_path``, ``page_artifact_for``):
no name is cleaned on the way in, so ``/region/%2e%2e`` or ``/region/%20内蒙`` is simply no feed,
never another feed's page.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

FEED_ALL = "all"
FEED_FORMATS = ("rss", "atom", "json")
# How long a poller may reuse a feed: Cache-Control max-age on the feed service and the RSS
# <ttl> (in minutes) say the same thing, so both come from here.
FEED_MAX_AGE = 60

_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]+")
# NAME_MAX is 255 bytes on Linux file systems (shared.artifacts.NAME_MAX_BYTES); a feed's
# longest file name adds ".atom.br" to its name. Every name that fitted before keeps its file.
SEGMENT_MAX_BYTES = 255 - len(".atom.br")
HASHED_PREFIX = ".h-"


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


def stored_segment(segment: str) -> str:
    """One segment of a key as a file name: itself when it is a plain one that fits, else a
    hash of it (bounded, safe, and never equal to a plain segment, which has no leading dot)."""
    try:
        size = len(segment.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no file system name holds it
        size = -1
    if 0 < size <= SEGMENT_MAX_BYTES and segment[0] != "." and not _UNSAFE.search(segment):
        return segment
    digest = hashlib.sha256(segment.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{HASHED_PREFIX}{digest}"


def _stored(key: str) -> str:
    return "/".join(stored_segment(part) for part in key.split("/"))


def _public_segment(segment: str) -> str:
    # quote() leaves dots alone; a segment of dots only would be removed by URL
    # normalisation (RFC 3986 5.2.4), so those dots are percent-encoded too.
    quoted = quote(segment, safe="", errors="surrogatepass")
    return quoted.replace(".", "%2E") if segment and not segment.strip(".") else quoted


def _public(key: str) -> str:
    return "/".join(_public_segment(part) for part in key.split("/"))


def feed_path(feed_key: str, fmt: str) -> str:
    """The public path of a feed (or archive page) in one format, percent-encoded."""
    return f"/feeds/{_public(feed_key)}.{fmt}"


def channel_path(feed_key: str) -> str:
    """The public path of a feed's HTML page: ``/`` for all, ``/region/…`` for the others."""
    return "/" if feed_key == FEED_ALL else f"/{_public(feed_key)}"


def feed_artifact(feed_key: str, fmt: str) -> str:
    return f"feeds/{_stored(feed_key)}.{fmt}"


def archive_feed(feed_key: str, page: int) -> str:
    """The feed key of archive page ``page`` (1 = oldest) of a feed (RFC 5005)."""
    return f"{feed_key}/archive/{page}"


def archive_index_artifact(feed_key: str) -> str:
    # A dot name: bookkeeping, never served (no feed path maps to it).
    return f"feeds/{_stored(feed_key)}/archive/.index.json"


def page_artifact(article_id: str) -> str:
    return f"pages/articles/{article_id}.html"


def channel_page_artifact(feed_key: str) -> str:
    return f"pages/{_stored(feed_key)}.html"


def _could_be_feed_name(name: str) -> bool:
    # feed_name never leaves a control character, slash or backslash in a name, so a path
    # holding one is no feed (and a NUL never reaches a query: PostgreSQL refuses it).
    return bool(name) and not _UNSAFE.search(name)


def feed_for_path(path: str) -> tuple[str, str] | None:
    """(feed key, format) of a decoded feed path after ``/feeds/`` (``region/内蒙.rss``,
    ``all/archive/3.atom``), or None when no feed can live there. The name is taken as it
    is: a path that is not some feed's own spelling maps to no file, never to another feed."""
    stem, dot, fmt = path.rpartition(".")
    if not dot or fmt not in FEED_FORMATS:
        return None
    parts = stem.split("/")
    page = None
    if len(parts) >= 3 and parts[-2] == "archive":
        parts, page = parts[:-2], parts[-1]
        if not (page.isascii() and page.isdigit() and page[0] != "0" and len(page) <= 9):
            return None
    if parts == [FEED_ALL]:
        key = FEED_ALL
    elif len(parts) == 2 and parts[0] in FEED_KINDS and _could_be_feed_name(parts[1]):
        key = f"{parts[0]}/{parts[1]}"
    else:
        return None
    return (key if page is None else archive_feed(key, int(page))), fmt


def channel_page_for(kind: str, name: str) -> str | None:
    """The artifact key of the page at ``/<kind>/<name>`` (decoded), or None."""
    if kind not in FEED_KINDS or not _could_be_feed_name(name):
        return None
    return channel_page_artifact(f"{kind}/{name}")


def source_media_artifact(sha256: str) -> str:
    return f"sources/{sha256[:2]}/{sha256}"


def media_uri(sha256: str) -> str:
    return f"urn:newsflow:media:sha256:{sha256}"


def parse_media_uri(uri: str) -> str | None:
    m = re.fullmatch(r"urn:newsflow:media:sha256:([0-9a-f]{64})", uri)
    return m.group(1) if m else None
