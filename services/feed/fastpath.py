"""The hot path for published feeds: a thin WSGI layer in front of the Flask app.

Feed readers poll; most polls are conditional and most answers are 304. A Flask view costs
far more than the answer itself, so feed requests are answered here from bytes and
validators held in memory (feed.artifacts: on local disk one stat per request notices a
rebuild; on a network store the writer's announcement does), with the gzip/brotli siblings
the worker wrote at generation time. Everything else, and any feed that does not exist, goes
to the Flask app.

Per request the work is one ``version()`` (a stat) and a few dict lookups: the header lists of every
variant (200 and 304) are built once per file version, the codings an ``Accept-Encoding``
value accepts are remembered, and an ``If-None-Match`` that is exactly the ETag is matched
without parsing (measurements: docs/benchmarks.md).
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

import brotli

from feed.artifacts import ArtifactCache
from feed.errors import STORE_DOWN
from shared import keys
from shared.artifacts import StoreUnavailable
from shared.errors import Problem

FEED_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
# (suffix on disk, Content-Encoding), most preferred first.
CODINGS = (("br", "br"), ("gz", "gzip"))

StartResponse = Callable[..., object]

_UNAVAILABLE_BODY = json.dumps(Problem("unavailable", STORE_DOWN).as_json()).encode()
UNAVAILABLE = (
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(_UNAVAILABLE_BODY))),
    ("Retry-After", "5"),
)


@dataclass(frozen=True)
class Variant:
    body: bytes
    etag: str
    coding: str | None
    # Built once per file version; each request gets a copy (a server may append to it).
    headers_304: tuple[tuple[str, str], ...] = ()
    headers_200: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Entry:
    key: str  # the feed's artifact
    version: Hashable  # the store's version of the bytes these variants were built from
    variants: dict[str | None, Variant]  # by Content-Encoding (None: identity)
    last_modified: str
    mtime: int
    # Siblings not (yet) matching the feed: their versions, checked per request until they
    # catch up (empty once every coding is there, so a settled feed costs one info()).
    waiting: tuple[tuple[str, Hashable | None], ...] = ()


def accepted_codings(header: str) -> set[str]:
    """Codings with q > 0 (RFC 9110 12.5.3); ``*`` stands for any not named."""
    accepted, refused = set(), set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        (accepted if q > 0 else refused).add(name)
    if "*" in accepted:
        accepted |= {c for _, c in CODINGS} - refused
    return accepted


def _sibling_of(packed: bytes, coding: str, body: bytes) -> bytes | None:
    """The compressed sibling if it holds exactly ``body``, else None.

    The worker writes a feed before its siblings (render.feedbuild._put_feeds), so for a
    moment the stored siblings are the previous version's; a stale sibling served under
    the new ETag would be a wrong answer that caches keep. Decoding costs about a millisecond
    per feed version and process, never per request. Until the siblings catch up the new
    bytes go out uncompressed, which every client accepts (RFC 9110 12.5.3)."""
    try:
        decoded = brotli.decompress(packed) if coding == "br" else gzip.decompress(packed)
    except (OSError, EOFError, ValueError, brotli.error, zlib.error):
        return None
    return packed if decoded == body else None


def artifact_key(path: str) -> str | None:
    """The artifact of a feed's request path, or None when no feed lives there.

    WSGI hands the path over as latin-1 text of the raw bytes; names are UTF-8. The mapping is
    ``shared.keys``' own: a long or odd name is stored under a hash, never at its path, and
    nothing else in the tree (temp files, ``.index.json``) is any feed's artifact."""
    try:
        decoded = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None
    found = keys.feed_for_path(decoded.removeprefix("/feeds/"))
    return None if found is None else keys.feed_artifact(*found)


def _etag_matches(header: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter.
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


class FeedFastPath:
    def __init__(
        self,
        app: Callable,
        artifacts: ArtifactCache,
        max_age: int = 60,
        links: Callable[[str], str] | None = None,
        max_entries: int = 4096,
    ) -> None:
        self.app = app
        self.artifacts = artifacts
        store = artifacts.store
        self._version_of = None if artifacts.remote else store.version
        self.max_age = max_age
        self.links = links  # Link header (hub, self) for a request path
        self.max_entries = max_entries
        self._cache: dict[str, Entry] = {}
        self._lock = threading.Lock()
        # Accept-Encoding value -> the codings it accepts, in CODINGS order. Clients send a
        # handful of distinct values; bounded all the same, as they are client-controlled.
        self._codings: dict[str, tuple[str, ...]] = {}

    def _cache_control(self, path: str) -> str:
        # RFC 5005 archive pages never change once written (render.feeds.history).
        if "/archive/" in path:
            return "public, max-age=31536000, immutable"
        return f"public, max-age={self.max_age}"

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/feeds/") or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        try:
            entry = self._load(path)
        except StoreUnavailable:
            # Not a 404: the feed may well exist (RFC 9110 15.6.4).
            start_response("503 Service Unavailable", list(UNAVAILABLE))
            return [_UNAVAILABLE_BODY]
        if entry is None:
            return self.app(environ, start_response)
        variant = self._choose(environ, entry)
        if self._not_modified(environ, entry, variant):
            start_response("304 Not Modified", list(variant.headers_304))
            return [b""]
        start_response("200 OK", list(variant.headers_200))
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else variant.body]

    def _version(self, key: str) -> Hashable | None:
        served = self.artifacts.get(key)
        return None if served is None else served.version

    def _load(self, path: str) -> Entry | None:
        cached = self._cache.get(path)
        if cached is not None:
            # A feed seen before. On local disk, a settled feed is confirmed with one
            # version() (a stat), nothing else: the hot path of every poll.
            if (
                self._version_of is not None
                and not cached.waiting
                and self._version_of(cached.key) == cached.version
            ):
                return cached
            # Otherwise the cache tells whether the worker has rebuilt it.
            key = cached.key
            served = self.artifacts.get(key)
            if served is None:
                return None
            if served.version == cached.version and (
                not cached.waiting
                or all(self._version(sibling) == seen for sibling, seen in cached.waiting)
            ):
                return cached
        else:
            key = artifact_key(path)
            if key is None:
                return None
            served = self.artifacts.get(key)
            if served is None:
                return None
        fmt = key.rsplit(".", 1)[-1]
        body, digest = served.data, served.etag
        mtime = int(served.mtime)
        last_modified = formatdate(mtime, usegmt=True)
        common = [
            ("Last-Modified", last_modified),
            ("Cache-Control", self._cache_control(path)),
            ("Vary", "Accept-Encoding"),
        ]
        if self.links is not None:
            # The path is "/" + the key's UTF-8 bytes as latin-1 text: one spelling per key.
            common.append(("Link", self.links(path)))

        def variant(data: bytes, etag: str, coding: str | None) -> Variant:
            head = [("ETag", etag), *common]
            full = [
                *head,
                ("Content-Type", FEED_TYPES[fmt]),
                ("Content-Length", str(len(data))),
                ("X-Content-Type-Options", "nosniff"),
            ]
            if coding:
                full.append(("Content-Encoding", coding))
            return Variant(data, etag, coding, tuple(head), tuple(full))

        variants = {None: variant(body, f'"{digest}"', None)}
        waiting = []
        for suffix, coding in CODINGS:
            sibling = f"{key}.{suffix}"
            stored = self.artifacts.get(sibling)
            packed = None if stored is None else _sibling_of(stored.data, coding, body)
            if packed is None:
                waiting.append((sibling, None if stored is None else stored.version))
            else:
                # A strong ETag names one representation (RFC 9110 8.8.3): one per coding.
                variants[coding] = variant(packed, f'"{digest}-{suffix}"', coding)
        entry = Entry(key, served.version, variants, last_modified, mtime, tuple(waiting))
        with self._lock:
            if path not in self._cache and len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))
            self._cache[path] = entry
        return entry

    def _choose(self, environ: dict, entry: Entry) -> Variant:
        header = environ.get("HTTP_ACCEPT_ENCODING", "")
        wanted = self._codings.get(header)
        if wanted is None:
            accepted = accepted_codings(header)
            wanted = tuple(coding for _, coding in CODINGS if coding in accepted)
            if len(self._codings) >= 256:
                self._codings.clear()
            self._codings[header] = wanted
        variants = entry.variants
        for coding in wanted:
            if coding in variants:
                return variants[coding]
        return variants[None]

    def _not_modified(self, environ: dict, entry: Entry, variant: Variant) -> bool:
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if inm is not None:
            return inm == variant.etag or _etag_matches(inm, variant.etag)
        ims = environ.get("HTTP_IF_MODIFIED_SINCE")
        if ims:
            try:
                return entry.mtime <= int(parsedate_to_datetime(ims).timestamp())
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
        return False
