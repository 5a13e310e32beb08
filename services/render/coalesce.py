"""Coalescing feed rebuilds: a burst of publications gives one rebuild per feed, not one each,
without adding latency to the first.

Leading edge: the first request for a feed marks it pending in Redis and sends a rebuild at
once. Later requests see the mark and send nothing. The rebuild clears the mark *before* it
reads the store, so a publication that committed before the clear is in what it reads, and
one that comes after the clear sends a rebuild of its own (which waits for the feed's lock).
At most one rebuild per feed is queued while one runs.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

# A lost task must not block a feed forever: the mark expires after this.
PENDING_TTL_S = 120


def _pending(feed_key: str) -> str:
    return f"newsflow:feed:pending:{feed_key}"


def request_rebuild(r: redis.Redis, send: Callable[[str], None], feed_key: str) -> bool:
    """Send a rebuild unless one is already pending; True when one was sent."""
    if r.set(_pending(feed_key), 1, nx=True, ex=PENDING_TTL_S):
        try:
            send(feed_key)
        except Exception:
            r.delete(_pending(feed_key))  # not sent: let the next request try
            raise
        return True
    return False


def begin_rebuild(r: redis.Redis, feed_key: str) -> None:
    r.delete(_pending(feed_key))
