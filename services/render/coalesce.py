"""Coalescing feed rebuilds: a burst of publications gives one rebuild per feed, not one each,
without adding latency to the first.

Leading edge: the first request for a feed marks it pending in Redis and sends a rebuild at
once. Later requests see the mark and send nothing. The rebuild clears the mark *before* it
reads the store (holding the feed's lease), so a publication that committed before the clear
is in what it reads, and one that comes after the clear sends a rebuild of its own. At most
one rebuild per feed is pending while one runs.

The mark is a promise that a rebuild is on its way, so it is only made once the rebuild was
sent: a request first marks the feed ``sending:<token>``, sends the rebuild with the token,
then turns the mark into ``sent:<token>``. Only a ``sent`` mark stops later requests; a
``sending`` mark left by a requester that died before its send stops nobody. (A mark set
before the send and left by a crash would have frozen the feed until the mark expired.)

A rebuild that finds its feed's lease busy may drop itself when the mark is ``sent`` with
another token (``superseded``): that rebuild was sent later, has not begun (beginning clears
the mark), and will read everything this one would have. Any other busy rebuild waits its
turn (render.tasks re-queues it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import redis

# A lost task must not block a feed forever: the mark expires after this.
PENDING_TTL_S = 120

_CLAIM = """
local mark = redis.call('get', KEYS[1])
if mark and string.sub(mark, 1, 5) == 'sent:' then return 0 end
redis.call('set', KEYS[1], 'sending:' .. ARGV[1], 'EX', ARGV[2])
return 1
"""
_CONFIRM = """
if redis.call('get', KEYS[1]) == 'sending:' .. ARGV[1] then
    return redis.call('set', KEYS[1], 'sent:' .. ARGV[1], 'EX', ARGV[2])
end
return 0
"""
_UNCLAIM = """
if redis.call('get', KEYS[1]) == 'sending:' .. ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def _pending(feed_key: str) -> str:
    return f"newsflow:feed:pending:{feed_key}"


def request_rebuild(r: redis.Redis, send: Callable[[str, str], None], feed_key: str) -> bool:
    """Send a rebuild (``send(feed_key, token)``) unless one is already pending; True when
    one was sent."""
    token = secrets.token_hex(8)
    mark = [_pending(feed_key)]
    if not r.eval(_CLAIM, 1, *mark, token, PENDING_TTL_S):
        return False
    try:
        send(feed_key, token)
    except Exception:
        r.eval(_UNCLAIM, 1, *mark, token)  # not sent: let the next request try
        raise
    # If the rebuild began already, it cleared the mark, and this does nothing.
    r.eval(_CONFIRM, 1, *mark, token, PENDING_TTL_S)
    return True


def begin_rebuild(r: redis.Redis, feed_key: str) -> None:
    """Called by the rebuild holding the feed's lease, before it reads the store."""
    r.delete(_pending(feed_key))


def superseded(r: redis.Redis, feed_key: str, token: str | None) -> bool:
    """Whether a rebuild sent after the one with ``token`` is pending and has not begun."""
    if token is None:  # sent before tokens existed: never dropped
        return False
    mark = r.get(_pending(feed_key))
    return mark is not None and mark.startswith(b"sent:") and mark != f"sent:{token}".encode()
