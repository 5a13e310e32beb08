"""The scheduler's jobs on a real store (SQLite and PostgreSQL) and a real Redis: embargo
releases claimed once by two schedulers, written to the outbox and sent, kept for the relay
when the broker is away; audit pruning."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from ingest.broker import make_celery_client, relay_sender
from newsflow import jobs
from newsflow.scheduler import SchedulerContext
from shared import partners
from shared.db import make_engine, make_sessionmaker
from shared.models import ArticleRow, AuditRow, OutboxRow, utcnow
from shared.settings import Settings
from shared.tasknames import TASK_RENDER_PAGE
from tests.conftest import free_port

MADE: list[str] = []


@pytest.fixture(autouse=True)
def _forget(database_url):
    """The articles a test made leave the shared store after it (with their outbox rows), so
    the stack's worker and ``wait_idle`` of later tests never meet them."""
    yield
    if not MADE:
        return
    sessions = make_sessionmaker(make_engine(database_url, immediate=True))
    with sessions.begin() as session:
        for row in session.scalars(select(OutboxRow).where(OutboxRow.task == TASK_RENDER_PAGE)):
            if row.args["args"][0] in MADE:
                session.delete(row)
        session.execute(delete(ArticleRow).where(ArticleRow.id.in_(MADE)))
    MADE.clear()


@pytest.fixture
def ctx(database_url, redis_srv, tmp_path) -> SchedulerContext:
    return context(database_url, own_db(redis_srv.url), tmp_path)


def own_db(redis_url: str) -> str:
    """The test Redis, another database number: no worker of the suite's stack consumes
    there, so a release sent here stays as the test left it."""
    return redis_url.rsplit("/", 1)[0] + "/7"


def context(database_url: str, redis_url: str, tmp_path) -> SchedulerContext:
    settings = Settings.from_env(
        {"NEWSFLOW_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    )
    return SchedulerContext(
        settings=settings,
        sessions=make_sessionmaker(make_engine(database_url, immediate=True)),
        readers=make_sessionmaker(make_engine(database_url)),
        send=relay_sender(make_celery_client(redis_url)),
    )


def held(ctx: SchedulerContext, seconds: float, status: str = "embargoed") -> str:
    """An article held by an embargo that ends ``seconds`` from now (negative: past)."""
    now = utcnow()
    row = ArticleRow(
        id=uuid.uuid4().hex,
        source="tests",
        guid=f"job-{uuid.uuid4().hex}",
        version=3,
        content_hash="0" * 64,
        doc={},
        status=status,
        media={},
        version_created=now,
        first_created=now,
        embargoed_until=now + timedelta(seconds=seconds),
    )
    with ctx.sessions.begin() as session:
        session.add(row)
    MADE.append(row.id)
    return row.id


def releases(ctx: SchedulerContext, article_id: str) -> list[OutboxRow]:
    with ctx.readers() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.task == TASK_RENDER_PAGE)).all()
    return [r for r in rows if r.args["args"][0] == article_id]


def status(ctx: SchedulerContext, article_id: str) -> str:
    with ctx.readers() as session:
        return session.get(ArticleRow, article_id).status


def test_a_due_embargo_is_released_by_its_render_step_through_the_outbox(ctx):
    article_id = held(ctx, -1)
    jobs.release_embargoes(ctx)
    [row] = releases(ctx, article_id)
    assert row.args == {"args": [article_id, 3]}
    assert row.sent_at is not None
    assert status(ctx, article_id) == "queued"


def test_an_embargo_not_yet_due_is_left_and_named_as_the_next(ctx):
    article_id = held(ctx, 3600)
    nxt = jobs.release_embargoes(ctx)
    assert releases(ctx, article_id) == []
    assert status(ctx, article_id) == "embargoed"
    assert nxt is not None and nxt <= utcnow() + timedelta(seconds=3600)


def test_an_article_not_held_is_not_released(ctx):
    article_id = held(ctx, -1, status="processing")  # not yet held by the worker
    jobs.release_embargoes(ctx)
    assert releases(ctx, article_id) == []


def test_two_schedulers_release_each_article_once(database_url, redis_srv, tmp_path):
    first = context(database_url, own_db(redis_srv.url), tmp_path)
    second = context(database_url, own_db(redis_srv.url), tmp_path)
    ids = [held(first, -1) for _ in range(30)]
    start = threading.Barrier(2)

    def run(ctx):
        start.wait()
        for _ in range(3):
            jobs.release_embargoes(ctx)

    threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [len(releases(first, i)) for i in ids] == [1] * len(ids)


def test_a_release_while_the_broker_is_away_waits_in_the_outbox(database_url, tmp_path):
    dead = context(database_url, f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    article_id = held(dead, -1)
    jobs.release_embargoes(dead)
    [row] = releases(dead, article_id)
    assert row.sent_at is None and row.attempts == 1  # the relay sends it once Redis is back
    assert status(dead, article_id) == "queued"


def test_pruning_removes_audit_rows_older_than_the_retention(ctx):
    route = f"/prune-{uuid.uuid4().hex}"
    with ctx.sessions.begin() as session:
        for days in (1, 89, 91, 400):
            partners.record(
                session, at=utcnow() - timedelta(days=days), method="GET", route=route, status=200
            )
    assert jobs.prune_audit(ctx) is None
    with ctx.readers() as session:
        left = session.scalar(select(func.count()).where(AuditRow.route == route))
    assert left == 2  # AUDIT_RETENTION_DAYS defaults to 90
