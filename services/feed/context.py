"""What the feed service needs, built once from Settings and kept on the app."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from feed.artifacts import ArtifactCache
from feed.livemedia import LiveMedia
from shared.artifacts import LocalArtifactStore
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
            artifacts=ArtifactCache(LocalArtifactStore(settings.artifacts_dir)),
            live_media=LiveMedia(sessions),
        )
