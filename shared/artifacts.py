"""The artifact store: a small contract with swappable backends (local disk now; an
S3-compatible store is the scale-out path and needs only these methods).

Writes are atomic: a reader sees the old bytes or the new bytes, never half a feed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol


class BadKey(ValueError):
    pass


@dataclass(frozen=True)
class ArtifactInfo:
    size: int
    mtime: float


class ArtifactStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def put_many(self, items: dict[str, bytes]) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def info(self, key: str) -> ArtifactInfo | None: ...
    def delete(self, key: str) -> None: ...


# NAME_MAX of Linux file systems (and S3's limit on a whole key is 1024 bytes).
NAME_MAX_BYTES = 255
KEY_MAX_BYTES = 1024


def check_key(key: str) -> str:
    """Keys are relative POSIX paths of UTF-8 names a file system can hold; anything that could
    climb out of the store, or that no file could be named, is refused (``BadKey``: a reader
    treats it as absent, a writer has a bug to fix in ``shared.keys``)."""
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


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        self.put_many({key: data})

    def put_many(self, items: dict[str, bytes]) -> None:
        """Each item atomically, in order; then each directory's entries made durable once
        (a feed rebuild writes ten files into two or three directories)."""
        parents = {}
        for key, data in items.items():
            target = self.path(key)
            parents[target.parent] = None
            self._replace(target, data)
        # A rename is durable only once the directory entry is on disk.
        for parent in parents:
            dir_fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @staticmethod
    def _replace(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def info(self, key: str) -> ArtifactInfo | None:
        try:
            st = self.path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ArtifactInfo(size=st.st_size, mtime=st.st_mtime)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
