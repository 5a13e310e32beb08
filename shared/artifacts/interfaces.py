"""The artifact store contract: what every backend does, and the keys every backend accepts.

Services touch artifacts only through these methods (warehouse's ``interfaces.py`` pattern):
the local backend (``local.py``, the embedded default) and the S3 backend (``s3.py``, the
scale-out path) are swapped by configuration (``shared.artifacts.open_store``).

Writes are atomic per artifact: a reader sees the old bytes or the new bytes, never half a feed.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import PurePosixPath
from typing import NamedTuple, Protocol


class BadKey(ValueError):
    """A key no backend may hold; a reader treats it as absent (a 404)."""


class StoreUnavailable(RuntimeError):
    """The store did not answer (a network store down or timing out): a 503, not a 404."""


class ArtifactInfo(NamedTuple):
    """What a reader needs to tell versions apart, without the bytes.

    A NamedTuple, not a dataclass: the feed's fast path asks for one per request on the
    local backend, and a tuple is the cheapest object Python builds."""

    size: int
    # When the stored version was written, seconds since the epoch: Last-Modified, and the
    # order of two writes by one writer (a feed and then its siblings).
    mtime: float
    # Opaque and compared only with ==: the same while the stored version is the same, new
    # after every write (local: (mtime_ns, size, inode); S3: (ETag, write time)).
    version: Hashable


class Artifact(NamedTuple):
    """The bytes and the info of the same stored version (read in one round trip)."""

    data: bytes
    info: ArtifactInfo


class ArtifactStore(Protocol):
    # True when info() is a network round trip: readers then cache and learn of new
    # versions from the writers' announcements (shared.artifacts.announce), not per request.
    remote: bool

    def put(self, key: str, data: bytes) -> None: ...
    def put_many(self, items: dict[str, bytes]) -> None:
        """Each item atomically, in the given order; every key is checked before any is
        written (a ``BadKey`` writes nothing)."""

    def get(self, key: str) -> bytes | None: ...
    def load(self, key: str) -> Artifact | None: ...
    def info(self, key: str) -> ArtifactInfo | None: ...
    def version(self, key: str) -> Hashable | None:
        """``info(key).version`` (None when absent), as cheaply as the backend can: the feed's
        per-request check that a cached copy is current on local disk."""

    def delete(self, key: str) -> None:
        """Idempotent: deleting what is not there is no error."""


class ForwardingStore:
    """A store around another: everything is passed on as it is. A wrapper that adds to
    writes (announcing them, checking a lease first) overrides just those."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store
        self.remote = store.remote

    def put(self, key: str, data: bytes) -> None:
        self.store.put(key, data)

    def put_many(self, items: dict[str, bytes]) -> None:
        self.store.put_many(items)

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def get(self, key: str) -> bytes | None:
        return self.store.get(key)

    def load(self, key: str) -> Artifact | None:
        return self.store.load(key)

    def info(self, key: str) -> ArtifactInfo | None:
        return self.store.info(key)

    def version(self, key: str) -> Hashable | None:
        return self.store.version(key)


# NAME_MAX of Linux file systems (and S3's limit on a whole key is 1024 bytes).
NAME_MAX_BYTES = 255
KEY_MAX_BYTES = 1024


def check_key(key: str) -> str:
    """Keys are relative POSIX paths of UTF-8 names a file system can hold; anything that could
    climb out of the store, or that no file could be named, is refused (``BadKey``: a reader
    treats it as absent, a writer has a bug to fix in ``shared.keys``). The same rule holds for
    every backend, so an artifact can move between them."""
    path = PurePosixPath(key)
    parts = key.split("/")
    if not key or path.is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise BadKey(f"bad artifact key {key[:100]!r}")
    if "\x00" in key or "\\" in key:
        raise BadKey(f"bad artifact key {key[:100]!r}")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadKey(f"artifact key {key[:100]!r} is not UTF-8") from None
    if size > KEY_MAX_BYTES or any(len(p.encode("utf-8")) > NAME_MAX_BYTES for p in parts):
        raise BadKey(f"artifact key {key[:100]!r}… is too long for a file name")
    return key
