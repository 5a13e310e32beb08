"""What the worker's tasks need, built once from Settings and kept on the Celery app."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker

from render.fetch import Fetcher
from render.pages import make_env
from shared.artifacts import ArtifactStore, open_store
from shared.artifacts.announce import AnnouncingStore
from shared.db import make_engine, make_sessionmaker
from shared.redisurl import client as redis_client
from shared.settings import Settings


@dataclass
class RenderContext:
    settings: Settings
    sessions: sessionmaker[Session]  # for writes: on SQLite, BEGIN IMMEDIATE takes the write lock
    readers: sessionmaker[Session]  # for reads: never takes the write lock (WAL readers)
    artifacts: ArtifactStore
    redis: redis.Redis
    fetcher: Fetcher
    jinja: Environment

    @classmethod
    def build(cls, settings: Settings) -> RenderContext:
        r = redis_client(settings.redis_url, timeout=10)
        return cls(
            settings=settings,
            sessions=make_sessionmaker(make_engine(settings.database_url, immediate=True)),
            # A read that held the write lock would stall every ingest POST and the other
            # worker process for as long as it ran (measured: POST round trips of 66-115 ms
            # under load instead of 13, docs/benchmarks.md).
            readers=make_sessionmaker(make_engine(settings.database_url)),
            # Every write is announced, so feed replicas on other hosts drop their copy
            # (shared.artifacts.announce; feed.invalidation listens).
            artifacts=AnnouncingStore.on(open_store(settings), r),
            redis=r,
            fetcher=Fetcher(
                max_bytes=settings.max_image_bytes, allow_hosts=settings.fetch_allow_hosts
            ),
            jinja=make_env(),
        )
