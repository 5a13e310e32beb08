"""Redis URLs as Celery writes them (``redis+socket:///path``) and as redis-py reads them."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def to_redis_py(url: str) -> str:
    if url.startswith("redis+socket://"):
        return "unix://" + url[len("redis+socket://") :]
    return url


def client(url: str, timeout: float = 2.0, retries: int | None = None) -> redis.Redis:
    """``timeout`` bounds each connect and each reply; ``retries``: redis-py's own retries
    of a failed command (None: its default, three with backoff)."""
    extra = {} if retries is None else {"retry": Retry(NoBackoff(), retries)}
    return redis.Redis.from_url(
        to_redis_py(url), socket_timeout=timeout, socket_connect_timeout=timeout, **extra
    )
