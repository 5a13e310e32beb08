"""What the feed service needs, built once from Settings and kept on the app."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from feed.artifacts import ArtifactCache
from feed.invalidation import Listener
from feed.livemedia import LiveMedia
from shared.artifacts import open_store
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings


@dataclass
class FeedContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    artifacts: ArtifactCache = field(repr=False)
    live_media: LiveMedia = field(repr=False)  # which rendition sets may be served

    @classmethod
    def build(cls, settings: Settings) -> FeedContext:
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            artifacts=artifact_cache(settings),
            live_media=LiveMedia(sessions),
        )


def artifact_cache(settings: Settings) -> ArtifactCache:
    """The one in-memory copy of the artifacts this process serves (pages, media and the
    fast path's feeds). On a remote store it listens for the writers' announcements."""
    cache = ArtifactCache(open_store(settings), revalidate_after=settings.artifact_revalidate)
    if cache.remote:
        cache.listener = Listener(settings.redis_url, cache)
        cache.set_first_use(cache.listener.start)
    return cache
