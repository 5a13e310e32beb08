"""Leases: short Redis locks that the holder renews while it works.

A lease is a key holding the holder's random token, with a TTL of a few seconds. While the
work runs, a thread renews the TTL every ``ttl / 5`` seconds, but only if the key still holds
the token (one Lua script, so a renewal can never take over someone else's lock). So:

- a holder that dies (SIGKILL, the OOM killer) stops renewing, and the lock is free again
  within ``ttl``, instead of after a TTL sized for the longest piece of work;
- a holder that hangs stops renewing after ``max_hold`` and loses the lease the same way;
- a lock granted after the client gave up waiting (Redis stalled past the socket timeout,
  then ran the ``SET``) belongs to nobody and lapses within ``ttl`` by itself.

The holder must not write after losing the lease: ``check()`` (and a store wrapped in
``LeasedStore``) refuses once the lease may have run out, judged by the holder's own
monotonic clock from the start of the last renewal that succeeded (as Redlock does). A write
can still land late if the process stalls between its check and its write; ``holding``
therefore also checks at the end that the key still held the token (nobody else had it
meanwhile) and raises ``LeaseLost`` if not, so the caller does the work again.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Iterator

import redis

from shared.artifacts import ArtifactStore, ForwardingStore

log = logging.getLogger(__name__)

LEASE_S = 5.0  # what a crash costs the next holder, at most
WAIT_S = 0.5  # how long a task waits for a busy lock before it hands its slot back
MAX_HOLD_S = 120.0  # no piece of work holds a lease longer; a hung holder lets it lapse

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LeaseBusy(RuntimeError):
    """Someone else holds the lease; try again later (and meanwhile free the worker slot)."""


class LeaseLost(RuntimeError):
    """The lease ran out before the work was done: it must not write, and should run again."""


class Lease:
    def __init__(
        self,
        r: redis.Redis,
        name: str,
        ttl: float = LEASE_S,
        max_hold: float = MAX_HOLD_S,
    ) -> None:
        self.redis, self.name, self.ttl, self.max_hold = r, name, ttl, max_hold
        self.token = secrets.token_hex(16)
        # A write needs this much of the lease left after its check: a renewal every ttl/5
        # keeps 4/5 of it left, so only a renewal failing twice in a row trips it.
        self.margin = ttl * 0.4
        self._valid_until = 0.0  # monotonic; the key lives at least until then
        self._lost = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renew = r.register_script(_RENEW)
        self._release = r.register_script(_RELEASE)

    def acquire(self, wait: float = 0.0) -> bool:
        """Take the lease, trying for up to ``wait`` seconds; start renewing it on success."""
        deadline = time.monotonic() + wait
        while True:
            started = time.monotonic()
            if self.redis.set(self.name, self.token, nx=True, px=int(self.ttl * 1000)):
                self._valid_until = started + self.ttl
                self._renewer = threading.Thread(
                    target=self._keep_renewing, args=(started,), name=f"lease {self.name}"
                )
                self._renewer.daemon = True
                self._renewer.start()
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.05, left))

    def _keep_renewing(self, acquired_at: float) -> None:
        while not self._stop.wait(self.ttl / 5):
            if time.monotonic() - acquired_at > self.max_hold:
                log.warning(
                    "%s held for more than %.0f s; letting it lapse", self.name, self.max_hold
                )
                return
            started = time.monotonic()
            try:
                renewed = self._renew(keys=[self.name], args=[self.token, int(self.ttl * 1000)])
            except redis.RedisError as exc:
                # Unknown whether it took: the validity left decides, and the next try may work.
                log.warning("renewing %s failed: %s", self.name, exc)
                continue
            if not renewed:
                self._lost = True
                log.warning("%s was lost: the key no longer holds our token", self.name)
                return
            self._valid_until = started + self.ttl

    @property
    def held(self) -> bool:
        return not self._lost and time.monotonic() < self._valid_until - self.margin

    def check(self) -> None:
        """Raise LeaseLost unless the lease is held with enough time left for a write."""
        if not self.held:
            raise LeaseLost(f"{self.name} is no longer held")

    def release(self) -> bool:
        """Stop renewing and delete the key if it still holds our token. True if it did, which
        proves nobody else held the lock since we took it."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.ttl)
        return bool(self._release(keys=[self.name], args=[self.token]))


@contextlib.contextmanager
def holding(
    r: redis.Redis,
    name: str,
    *,
    ttl: float = LEASE_S,
    wait: float = WAIT_S,
    max_hold: float = MAX_HOLD_S,
) -> Iterator[Lease]:
    """Hold the lease ``name`` for the block. Raises LeaseBusy if it is not had within ``wait``
    seconds, and LeaseLost after the block if the lease lapsed while it ran (any writes it
    made may have crossed another holder's: the caller should do the work again)."""
    lease = Lease(r, name, ttl=ttl, max_hold=max_hold)
    if not lease.acquire(wait):
        raise LeaseBusy(f"{name} is held by another worker")
    try:
        yield lease
    except BaseException:
        # The block's own error is the one to report; an unreleased key lapses by itself.
        with contextlib.suppress(redis.RedisError):
            lease.release()
        raise
    if not lease.release():
        raise LeaseLost(f"{name} lapsed before the work was done")


class LeasedStore(ForwardingStore):
    """An artifact store whose writes first check the lease, so a holder that lost its lock
    stops before it writes over the next holder's newer bytes."""

    def __init__(self, store: ArtifactStore, lease: Lease) -> None:
        super().__init__(store)
        self.lease = lease

    def put(self, key: str, data: bytes) -> None:
        self.lease.check()
        self.store.put(key, data)

    def put_many(self, items: dict[str, bytes]) -> None:
        if items:
            self.lease.check()
        self.store.put_many(items)

    def delete(self, key: str) -> None:
        self.lease.check()
        self.store.delete(key)
