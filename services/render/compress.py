"""Pre-compressed siblings of an artifact (``all.atom.gz``, ``all.atom.br``), made once at
generation time so no request pays for compression, and so any static server
(nginx ``gzip_static``/``brotli_static``) can serve the same files."""

from __future__ import annotations

import brotli
from isal import igzip

ENCODINGS = ("br", "gz")


def siblings(data: bytes) -> dict[str, bytes]:
    # Brotli 5, not 11: measured, quality 11 was 96% of a rebuild (~205 ms a format) and held
    # the worker to 1.4 articles/s; 5 costs under 2% of that for ~5% more bytes.
    # gzip from ISA-L at its level 3, not zlib at 6: on a 191 KiB all.atom 0.5 ms instead of
    # 5.1 for 2% more bytes (90.4 KiB against 88.3), and compression was then the largest
    # part of a rebuild (docs/benchmarks.md, Feed rebuild and Freshness).
    # mtime=0: the same bytes give the same .gz, so its ETag is stable across rebuilds.
    return {
        "br": brotli.compress(data, quality=5, mode=brotli.MODE_TEXT),
        "gz": igzip.compress(data, compresslevel=3, mtime=0),
    }
