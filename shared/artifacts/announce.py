"""New versions announced on Redis pub/sub, so readers on other hosts drop what they cached.

A writer wraps its store in ``AnnouncingStore``: after each write or delete it publishes the
keys it touched on ``CHANNEL`` as JSON (``{"keys": [...]}``). Feed replicas listen
(feed.invalidation) and serve a rebuilt feed within milliseconds, without asking the store
per request. Pub/sub delivers at most once: a listener that was away missed messages, so it
revalidates everything it holds when it (re)subscribes, and every replica revalidates
periodically anyway (``ARTIFACT_REVALIDATE_SECONDS``) as the safety net.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

import redis

from shared.artifacts.interfaces import ArtifactStore, ForwardingStore

log = logging.getLogger(__name__)

CHANNEL = "newsflow:artifacts:written"


def message(keys: Iterable[str]) -> str:
    return json.dumps({"keys": list(keys)}, ensure_ascii=False)


def parse(data: bytes | str) -> list[str] | None:
    """The keys of a message, or None when it is not one of ours (then: revalidate all)."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        return None
    return keys


class AnnouncingStore(ForwardingStore):
    """A store whose writes are announced after they are done. A failed announcement is
    logged, not raised: the artifact is written, and readers find it by revalidation."""

    def __init__(self, store: ArtifactStore, publish: Callable[[str, str], object]) -> None:
        super().__init__(store)
        self.publish = publish  # redis.Redis.publish, or anything with its signature

    @classmethod
    def on(cls, store: ArtifactStore, client: redis.Redis) -> AnnouncingStore:
        return cls(store, client.publish)

    def _announce(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            self.publish(CHANNEL, message(keys))
        except redis.RedisError as exc:
            log.warning("could not announce %d new artifact(s): %s", len(keys), exc)

    # Announced even when the write failed part-way: what landed must be found, and a reader
    # told of a key that did not change only reads it again.
    def put(self, key: str, data: bytes) -> None:
        try:
            self.store.put(key, data)
        finally:
            self._announce([key])

    def put_many(self, items: dict[str, bytes]) -> None:
        try:
            self.store.put_many(items)
        finally:
            self._announce(list(items))

    def delete(self, key: str) -> None:
        try:
            self.store.delete(key)
        finally:
            self._announce([key])
