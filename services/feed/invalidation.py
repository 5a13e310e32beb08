"""Listens for the writers' announcements (shared.artifacts.announce) and drops the cached
copies they name, so a replica serves a rebuilt feed within milliseconds of its write.

One daemon thread per process, started on the first read of a remote store. Pub/sub keeps
no backlog: whenever the subscription is (re)made, every cached copy is revalidated on its
next read, since announcements may have been missed while nobody listened.
"""

from __future__ import annotations

import logging
import threading

import redis

from feed.artifacts import ArtifactCache
from shared.artifacts.announce import CHANNEL, parse
from shared.redisurl import to_redis_py

log = logging.getLogger(__name__)


class Listener:
    def __init__(self, redis_url: str, cache: ArtifactCache, retry_after: float = 1.0) -> None:
        self.redis_url = redis_url
        self.cache = cache
        self.retry_after = retry_after
        self.subscribed = threading.Event()  # set while subscribed (tests wait for it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="artifact-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError) as exc:
                log.warning("artifact announcements: %s; listening again in %.0fs", exc,
                            self.retry_after)  # fmt: skip
            self.subscribed.clear()
            self.cache.revalidate_all()  # whatever was announced meanwhile is unknown
            self._stop.wait(self.retry_after)

    def _listen(self) -> None:
        # health_check_interval: a PING on a quiet subscription, so a dead connection is
        # noticed within seconds rather than by the kernel's keepalive hours later.
        client = redis.Redis.from_url(
            to_redis_py(self.redis_url), socket_connect_timeout=2, socket_timeout=10,
            health_check_interval=3,
        )  # fmt: skip
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(CHANNEL)
            while not self._stop.is_set():
                msg = pubsub.get_message(timeout=1.0)
                if msg is None:
                    continue
                if msg["type"] == "subscribe":
                    self.cache.revalidate_all()
                    self.subscribed.set()
                elif msg["type"] == "message":
                    keys = parse(msg["data"])
                    if keys is None:
                        self.cache.revalidate_all()
                    else:
                        self.cache.invalidate(keys)
        finally:
            pubsub.close()
            client.close()
