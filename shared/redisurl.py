"""Redis URLs as Celery writes them (``redis+socket:///path``) and as redis-py reads them."""

from __future__ import annotations

import redis


def to_redis_py(url: str) -> str:
    if url.startswith("redis+socket://"):
        return "unix://" + url[len("redis+socket://") :]
    return url


def client(url: str, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis.from_url(
        to_redis_py(url), socket_timeout=timeout, socket_connect_timeout=timeout
    )
