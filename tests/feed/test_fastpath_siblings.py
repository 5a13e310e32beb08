"""The fast path never serves a compressed sibling that is not the current feed.

The worker writes a feed before its siblings (render.feedbuild._put_feeds), so there is a
moment when the .br/.gz on disk are the previous version's. These tests stage that moment
on disk and call the WSGI layer directly, as granian would.
"""

from __future__ import annotations

import gzip
import os

import brotli
import pytest

from feed.artifacts import ArtifactCache
from feed.fastpath import FeedFastPath
from shared.artifacts import LocalArtifactStore


def not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not here"]


def get(app, path: str, **headers) -> tuple[str, dict[str, str], bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path}
    environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    seen = {}

    def start_response(status, header_list):
        seen["status"], seen["headers"] = status, dict(header_list)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def fast_path(root) -> FeedFastPath:
    return FeedFastPath(not_found, ArtifactCache(LocalArtifactStore(root)))


def write(path, data: bytes, bump_ns: int = 0) -> None:
    path.write_bytes(data)
    if bump_ns:  # a later write on a coarse-clock filesystem still gets a new stamp
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_ns))


@pytest.fixture
def feeds(tmp_path):
    (tmp_path / "feeds").mkdir()
    return tmp_path


OLD = b"<?xml version='1.0'?><feed>old</feed>" * 20
NEW = b"<?xml version='1.0'?><feed>new</feed>" * 20


def test_a_stale_gzip_sibling_is_not_served_for_new_bytes(feeds):
    write(feeds / "feeds/all.atom.gz", gzip.compress(OLD))
    write(feeds / "feeds/all.atom", NEW)
    app = fast_path(feeds)
    status, headers, body = get(app, "/feeds/all.atom", accept_encoding="gzip")
    assert status == "200 OK"
    assert "Content-Encoding" not in headers
    assert body == NEW
    assert not headers["ETag"].endswith('-gz"')


def test_the_sibling_is_served_once_it_catches_up(feeds):
    write(feeds / "feeds/all.atom.br", brotli.compress(OLD))
    write(feeds / "feeds/all.atom", NEW)
    app = fast_path(feeds)
    _, first, _ = get(app, "/feeds/all.atom", accept_encoding="br")
    assert "Content-Encoding" not in first
    write(feeds / "feeds/all.atom.br", brotli.compress(NEW), bump_ns=1_000_000)
    _, headers, body = get(app, "/feeds/all.atom", accept_encoding="br")
    assert headers["Content-Encoding"] == "br"
    assert brotli.decompress(body) == NEW
    assert headers["ETag"] == first["ETag"][:-1] + '-br"'


def test_a_sibling_that_appears_later_is_picked_up(feeds):
    write(feeds / "feeds/all.atom", NEW)
    app = fast_path(feeds)
    assert "Content-Encoding" not in get(app, "/feeds/all.atom", accept_encoding="gzip")[1]
    write(feeds / "feeds/all.atom.gz", gzip.compress(NEW))
    _, headers, body = get(app, "/feeds/all.atom", accept_encoding="gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == NEW


def test_a_corrupt_sibling_is_ignored(feeds):
    write(feeds / "feeds/all.atom", NEW)
    write(feeds / "feeds/all.atom.gz", b"\x1f\x8b not gzip at all")
    app = fast_path(feeds)
    _, headers, body = get(app, "/feeds/all.atom", accept_encoding="gzip")
    assert "Content-Encoding" not in headers
    assert body == NEW


def test_a_304_for_the_identity_etag_while_siblings_lag(feeds):
    write(feeds / "feeds/all.atom.gz", gzip.compress(OLD))
    write(feeds / "feeds/all.atom", NEW)
    app = fast_path(feeds)
    _, headers, _ = get(app, "/feeds/all.atom", accept_encoding="gzip")
    status, _, body = get(
        app, "/feeds/all.atom", accept_encoding="gzip", if_none_match=headers["ETag"]
    )
    assert status == "304 Not Modified"
    assert body == b""
