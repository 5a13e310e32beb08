"""Artifacts held in memory with their HTTP validators, one copy per stored version.

The strong ETag is a hash of the bytes (RFC 9110 8.8.3), so two replicas behind a balancer
agree on it; it is computed once per version, when the bytes are loaded.

How a cached copy is known to be current depends on the store (``store.remote``):

- local disk: ``info()`` (one stat) per read. A stat costs about a microsecond and sees a
  rebuild at once, so nothing else is needed.
- a network store (S3): never per read. A copy is current until the writer's announcement
  of that key arrives (feed.invalidation drops it at once), and in any case for at most
  ``revalidate_after`` seconds, after which one ``info()`` (a HEAD) confirms it or loads
  the new version. Absent keys are remembered the same way, so a page nobody rendered yet
  costs no round trip per request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from shared.artifacts import ArtifactStore, BadKey, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    data: bytes
    etag: str
    mtime: float
    version: Hashable  # the store's version token of these bytes


class _Slot:
    """What a remote store held at ``checked`` (monotonic): a version, or nothing."""

    __slots__ = ("checked", "served")

    def __init__(self, served: Served | None, checked: float) -> None:
        self.served, self.checked = served, checked


class ArtifactCache:
    def __init__(
        self,
        store: ArtifactStore,
        max_entries: int = 8192,
        max_bytes: int = 256 * 2**20,
        revalidate_after: float = 5.0,
        on_first_use: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.remote = store.remote
        # Both bounds hold: many small feeds, or a few large renditions. The oldest copy
        # goes first; it is loaded again when asked for.
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0
        self.revalidate_after = revalidate_after
        # Started once per process (a server may fork workers after building the app).
        self._on_first_use = on_first_use
        self.listener = None  # feed.invalidation.Listener, when one was attached
        self._pid = 0
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        # Slots checked before this (monotonic) are revalidated on next use: set when the
        # listener (re)subscribes, as announcements may have been missed meanwhile.
        self._stale_before = 0.0
        # Bumped by every invalidation: a load that raced one is not trusted (see _fetch).
        self._generation = 0
        if not self.remote:
            self.get = self._get_local  # type: ignore[method-assign]

    def get(self, key: str) -> Served | None:
        """The current bytes of ``key``, or None when there are none (or the key is bad).
        On local disk this is ``_get_local`` (bound in __init__)."""
        try:
            return self._remote(key)
        except BadKey:
            return None

    # -- local disk: a stat per read ---------------------------------------------------

    def _get_local(self, key: str) -> Served | None:
        # get() on local disk: the fast path asks this per request.
        try:
            version = self.store.version(key)
            if version is None:
                return None
            slot = self._slots.get(key)
            if slot is not None and slot.served is not None and slot.served.version == version:
                return slot.served
            return self._fetch(key)
        except BadKey:
            return None

    # -- a network store: announcements, and a revalidation now and then ----------------

    def _remote(self, key: str) -> Served | None:
        if self._pid != os.getpid():
            self._first_use()
        slot = self._slots.get(key)
        now = time.monotonic()
        if slot is None:
            return self._fetch(key)
        if slot.checked > self._stale_before and now - slot.checked < self.revalidate_after:
            return slot.served
        generation = self._generation
        try:
            version = self.store.version(key)  # one HEAD on S3
        except StoreUnavailable as exc:
            if slot.served is None:
                raise
            # Stale-if-error (RFC 5861's idea): the last good copy beats a 503 for readers;
            # asked again after another interval.
            log.warning("artifact store unavailable, serving the cached %s: %s", key, exc)
            slot.checked = now
            return slot.served
        if version is None:
            self._keep(key, None, now, generation)
            return None
        if slot.served is not None and slot.served.version == version:
            if generation == self._generation:
                slot.checked = now
            return slot.served
        return self._fetch(key)

    def _first_use(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._slots.clear()  # a forked child starts with what the parent had: unknown age
            self._bytes = 0
        if self._on_first_use is not None:
            self._on_first_use()

    # -- both ------------------------------------------------------------------------

    def _fetch(self, key: str) -> Served | None:
        generation, started = self._generation, time.monotonic()
        found = self.store.load(key)
        served = None
        if found is not None:
            data, info = found
            digest = hashlib.sha256(data).hexdigest()[:32]
            served = Served(data=data, etag=digest, mtime=info.mtime, version=info.version)
        self._keep(key, served, started, generation)
        return served

    def _keep(self, key: str, served: Served | None, checked: float, generation: int) -> None:
        if not self.remote and served is None:
            return  # on disk, absence is asked per read anyway
        # An invalidation that arrived while this was loading may be newer than what was
        # loaded: kept, but checked again on next use.
        slot = _Slot(served, checked if generation == self._generation else float("-inf"))
        with self._lock:
            self._drop(key)
            self._slots[key] = slot
            self._bytes += _size(slot)
            while self._slots and (
                len(self._slots) > self.max_entries or self._bytes > self.max_bytes
            ):
                self._drop(next(iter(self._slots)))

    def _drop(self, key: str) -> None:
        # Under self._lock.
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._bytes -= _size(slot)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def set_first_use(self, hook: Callable[[], None]) -> None:
        self._on_first_use = hook

    def invalidate(self, keys: Iterable[str]) -> None:
        """These keys were written: their next read loads them again."""
        with self._lock:
            self._generation += 1
            for key in keys:
                self._drop(key)

    def revalidate_all(self) -> None:
        """Announcements may have been missed: confirm every copy on its next read."""
        with self._lock:
            self._generation += 1
            self._stale_before = time.monotonic()


def _size(slot: _Slot) -> int:
    return 0 if slot.served is None else len(slot.served.data)
