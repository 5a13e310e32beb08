"""What a running ingest needs, built once from Settings and kept on the app (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ingest.broker import CelerySender, Sender, make_celery_client
from shared.artifacts import ArtifactStore, LocalArtifactStore
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings


@dataclass
class IngestContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]  # for writes: on SQLite, BEGIN IMMEDIATE
    readers: sessionmaker[Session]  # for reads: never takes SQLite's write lock
    artifacts: ArtifactStore
    send: Sender

    @classmethod
    def build(cls, settings: Settings) -> IngestContext:
        engine = make_engine(settings.database_url, immediate=True)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            readers=make_sessionmaker(make_engine(settings.database_url)),
            artifacts=LocalArtifactStore(settings.artifacts_dir),
            send=CelerySender(make_celery_client(settings.redis_url)),
        )
