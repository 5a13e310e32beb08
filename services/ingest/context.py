"""What a running ingest needs, built once from Settings and kept on the app (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ingest.broker import Sender, make_celery_client, relay_sender, request_sender
from ingest.relay import AfterCommit
from shared.artifacts import ArtifactStore, open_store
from shared.db import make_engine, make_sessionmaker
from shared.sending import BoundedSender
from shared.settings import Settings


@dataclass
class IngestContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]  # for writes: on SQLite, BEGIN IMMEDIATE
    readers: sessionmaker[Session]  # for reads: never takes SQLite's write lock
    read_engine: Engine  # the readers' engine (/healthz: a probe must not queue for the lock)
    artifacts: ArtifactStore
    send: BoundedSender  # after commit: a short deadline and a circuit breaker
    relay_send: Sender  # the outbox relay: its own client, a longer deadline, no breaker
    after_commit: AfterCommit  # sends a request's outbox row off the request thread

    @classmethod
    def build(cls, settings: Settings) -> IngestContext:
        engine = make_engine(settings.database_url, immediate=True)
        read_engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        # A Celery client each: each sender has its own thread, and a kombu connection must
        # not be shared between threads.
        send = request_sender(make_celery_client(settings.redis_url))
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            readers=make_sessionmaker(read_engine),
            read_engine=read_engine,
            artifacts=open_store(settings),
            send=send,
            relay_send=relay_sender(make_celery_client(settings.redis_url)),
            after_commit=AfterCommit(sessions, send),
        )
