"""The local backend: artifacts are files under one directory, the embedded default.

Writes are atomic (temp file in the same directory, fsync, rename, fsync of the directory),
so any static server can serve the tree as it is.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Hashable
from pathlib import Path
from stat import S_ISREG

from shared.artifacts.interfaces import Artifact, ArtifactInfo, check_key

# Keys seen -> their file's path string: the feed's fast path asks info() per request, and
# check_key plus a path join cost more than the stat itself (docs/benchmarks.md, Serving).
_PATHS_MAX = 8192
_stat = os.stat


def _info(st: os.stat_result) -> ArtifactInfo:
    # The inode changes with every replace (rename of a new file), so two writes within one
    # tick of a coarse file-system clock are still two versions.
    return ArtifactInfo(st.st_size, st.st_mtime, (st.st_mtime_ns, st.st_size, st.st_ino))


class LocalArtifactStore:
    remote = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._root = os.fspath(self.root)
        self._paths: dict[str, str] = {}
        self._known = self._paths.get  # the same dict for life (cleared, never replaced)

    def _path(self, key: str) -> str:
        path = self._paths.get(key)
        if path is None:
            path = os.path.join(self._root, check_key(key))
            if len(self._paths) >= _PATHS_MAX:
                self._paths.clear()
            self._paths[key] = path
        return path

    def put(self, key: str, data: bytes) -> None:
        self.put_many({key: data})

    def put_many(self, items: dict[str, bytes]) -> None:
        """Each item atomically, in order; then each directory's entries made durable once
        (a feed rebuild writes ten files into two or three directories)."""
        targets = {key: Path(self._path(key)) for key in items}  # a bad key: nothing written
        parents = {}
        for key, data in items.items():
            target = targets[key]
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
        found = self.load(key)
        return None if found is None else found.data

    def load(self, key: str) -> Artifact | None:
        """Bytes and info of the same file: the fstat is of the file that was read, so a
        rebuild landing in between cannot pair new bytes with the old version."""
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not S_ISREG(st.st_mode):
                    return None
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return Artifact(data, _info(st))

    def info(self, key: str) -> ArtifactInfo | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _info(st) if S_ISREG(st.st_mode) else None

    def version(self, key: str) -> Hashable | None:
        # Per request on the feed's fast path (docs/benchmarks.md, Serving): one stat and
        # no call or object that is not needed; the same token as _info's.
        try:
            st = _stat(self._known(key) or self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino) if S_ISREG(st.st_mode) else None

    def delete(self, key: str) -> None:
        Path(self._path(key)).unlink(missing_ok=True)
