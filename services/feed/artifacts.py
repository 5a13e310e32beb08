"""Artifacts with their HTTP validators, computed once per version of the file.

The strong ETag is a hash of the bytes (RFC 9110 8.8.3), so two servers behind a balancer
agree on it; it is recomputed only when the file's (mtime, size) changes.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from shared.artifacts import BadKey, LocalArtifactStore


@dataclass(frozen=True)
class Served:
    data: bytes
    etag: str
    mtime: float


class ArtifactCache:
    def __init__(self, store: LocalArtifactStore, max_entries: int = 2048) -> None:
        self.store = store
        self.max_entries = max_entries
        self._cache: dict[str, tuple[tuple[float, int], Served]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Served | None:
        try:
            info = self.store.info(key)
        except BadKey:
            return None
        if info is None:
            return None
        stamp = (info.mtime, info.size)
        hit = self._cache.get(key)
        if hit and hit[0] == stamp:
            return hit[1]
        data = self.store.get(key)
        if data is None:
            return None
        served = Served(data=data, etag=hashlib.sha256(data).hexdigest()[:32], mtime=info.mtime)
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (stamp, served)
        return served
