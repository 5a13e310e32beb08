"""Pre-compressed siblings of an artifact (``all.atom.gz``, ``all.atom.br``), made once at
generation time so no request pays for compression, and so any static server
(nginx ``gzip_static``/``brotli_static``) can serve the same files."""

from __future__ import annotations

import gzip

import brotli

ENCODINGS = ("br", "gz")


def siblings(data: bytes) -> dict[str, bytes]:
    # mtime=0: the same bytes give the same .gz, so its ETag is stable across rebuilds.
    return {
        "br": brotli.compress(data, quality=11, mode=brotli.MODE_TEXT),
        "gz": gzip.compress(data, compresslevel=9, mtime=0),
    }
