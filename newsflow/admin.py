"""What the operator commands do, without click: the pipeline's state, retrying failed
articles and re-rendering pages and feeds. Work is handed to the workers the way ingest hands
it on: outbox rows written in one transaction, then sent by task name (the relay sends any
that this process could not), so a retry or a rebuild scales with the workers and survives a
broker outage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from shared.models import ArticleRow, FeedEntry, OutboxRow, utcnow
from shared.tasknames import (
    ALL_QUEUES,
    TASK_PROCESS_IMAGES,
    TASK_REBUILD_FEED,
    TASK_RENDER_PAGE,
    TASK_WITHDRAW,
)

# Every Status of shared.schema: "embargoed" is a version held by its embargo until the
# scheduler releases it.
STATES = ("queued", "processing", "embargoed", "published", "failed", "withdrawn")
# An embargo this long past its time and still held means no scheduler is running.
OVERDUE_AFTER_S = 10.0


@dataclass
class Status:
    queues: dict[str, int | None]  # None: Redis did not answer
    outbox_backlog: int
    outbox_oldest: datetime | None
    articles: dict[str, int]
    oldest_queued: tuple[str, datetime] | None
    failures: list[dict] = field(default_factory=list)
    next_embargo: datetime | None = None  # the earliest held embargo's end
    overdue_embargoes: int = 0  # held past their time (is `newsflow scheduler` running?)

    def as_json(self, now: datetime) -> dict:
        def age(then: datetime) -> float:
            return round((now - then).total_seconds(), 1)

        return {
            "queues": self.queues,
            "outbox": {
                "backlog": self.outbox_backlog,
                "oldestAgeSeconds": age(self.outbox_oldest) if self.outbox_oldest else None,
            },
            "articles": self.articles,
            "oldestQueued": {
                "id": self.oldest_queued[0],
                "ageSeconds": age(self.oldest_queued[1]),
            }
            if self.oldest_queued
            else None,
            "recentFailures": self.failures,
            "embargoes": {
                "next": self.next_embargo.isoformat() if self.next_embargo else None,
                "overdue": self.overdue_embargoes,
            },
        }


def queue_depths(redis_client) -> dict[str, int | None]:
    depths: dict[str, int | None] = {}
    for queue in ALL_QUEUES:
        try:
            depths[queue] = int(redis_client.llen(queue))
        except Exception:
            depths[queue] = None
    return depths


def status(session: Session, redis_client, failures: int = 10) -> Status:
    counts = dict(
        session.execute(select(ArticleRow.status, func.count()).group_by(ArticleRow.status)).all()
    )
    backlog, oldest = session.execute(
        select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.sent_at.is_(None))
    ).one()
    queued = session.execute(
        select(ArticleRow.id, ArticleRow.received_at)
        .where(ArticleRow.status.in_(("queued", "processing")))
        .order_by(ArticleRow.received_at)
        .limit(1)
    ).first()
    failed = session.execute(
        select(ArticleRow.id, ArticleRow.source, ArticleRow.guid, ArticleRow.version,
               ArticleRow.status_reason, ArticleRow.updated_at)
        .where(ArticleRow.status == "failed")
        .order_by(ArticleRow.updated_at.desc())
        .limit(failures)
    ).all()  # fmt: skip
    next_embargo, overdue = _embargoes(session)
    return Status(
        next_embargo=next_embargo,
        overdue_embargoes=overdue,
        queues=queue_depths(redis_client),
        outbox_backlog=backlog,
        outbox_oldest=_aware(oldest),
        articles={state: counts.get(state, 0) for state in STATES},
        oldest_queued=(queued[0], queued[1]) if queued else None,
        failures=[
            {
                "id": r.id,
                "source": r.source,
                "guid": r.guid,
                "version": r.version,
                "reason": r.status_reason,
                "at": r.updated_at.isoformat(),
            }
            for r in failed
        ],
    )


def _embargoes(session: Session) -> tuple[datetime | None, int]:
    held = ArticleRow.status == "embargoed"
    first = session.scalar(
        select(ArticleRow.embargoed_until)
        .where(held, ArticleRow.embargoed_until.is_not(None))
        .order_by(ArticleRow.embargoed_until)
        .limit(1)
    )
    cutoff = utcnow() - timedelta(seconds=OVERDUE_AFTER_S)
    overdue = session.scalar(select(func.count()).where(held, ArticleRow.embargoed_until < cutoff))
    return first, overdue or 0


def _aware(value):
    # func.min() comes back without the column type's conversion on some backends.
    from shared.models import UTCDateTime

    if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)


def _follow_up(row: ArticleRow) -> str:
    return TASK_WITHDRAW if row.doc.get("pubStatus", "usable") != "usable" else TASK_PROCESS_IMAGES


def retry(session: Session, ids: list[str] | None, since: datetime | None) -> list[str]:
    """Send failed articles through their steps again (their current version); returns the ids.
    Named ids that are not failed are refused with the reason, so nothing is retried by
    mistake: a published article is rebuilt with ``rebuild``, not retried."""
    query = select(ArticleRow).where(ArticleRow.status == "failed")
    if ids:
        query = query.where(ArticleRow.id.in_(ids))
    if since is not None:
        query = query.where(ArticleRow.updated_at >= since)
    rows = list(session.scalars(query.with_for_update()))
    if ids:
        found = {r.id for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            states = dict(
                session.execute(
                    select(ArticleRow.id, ArticleRow.status).where(ArticleRow.id.in_(missing))
                ).all()
            )
            raise ValueError(
                "not failed, so not retried: "
                + ", ".join(f"{i} ({states.get(i, 'no such article')})" for i in missing)
            )
    for row in rows:
        row.status = "queued"
        row.status_reason = None
        session.add(OutboxRow(task=_follow_up(row), args={"args": [row.id, row.version]}))
    return [r.id for r in rows]


def feed_keys(session: Session) -> list[str]:
    return list(session.scalars(select(distinct(FeedEntry.feed_key)).order_by(FeedEntry.feed_key)))


def published(session: Session, batch: int = 1000) -> Iterator[tuple[str, int]]:
    """(id, published version) of every live article, in id order, a batch at a time."""
    last = ""
    while True:
        rows = session.execute(
            select(ArticleRow.id, ArticleRow.published_version)
            .where(ArticleRow.published_version.is_not(None), ArticleRow.status != "withdrawn")
            .where(ArticleRow.id > last)
            .order_by(ArticleRow.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from ((r.id, r.published_version) for r in rows)
        last = rows[-1].id


def in_flight(session: Session, batch: int = 1000) -> Iterator[ArticleRow]:
    """Articles whose current version was ``queued`` or ``processing``, in id order."""
    last = ""
    while True:
        rows = list(
            session.scalars(
                select(ArticleRow)
                .where(ArticleRow.status.in_(("queued", "processing")), ArticleRow.id > last)
                .order_by(ArticleRow.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def enqueue_rebuild(
    session: Session, pages: bool, images: bool, feeds: bool, batch: int = 1000
) -> int:
    """Outbox rows for a rebuild: every published article's images (and so its page and its
    feeds), or its page, and every feed. With images (``--all``, after a restore) also the
    steps of every article that was under way: its task went with the old broker, and a
    step is idempotent, so sending it again where it is still queued costs one no-op.
    Returns how many rows were written."""
    count = 0
    if images or pages:
        task = TASK_PROCESS_IMAGES if images else TASK_RENDER_PAGE
        for article_id, version in published(session, batch):
            session.add(OutboxRow(task=task, args={"args": [article_id, version]}))
            count += 1
            if count % batch == 0:
                session.flush()
    if images:
        for row in in_flight(session, batch):
            session.add(OutboxRow(task=_follow_up(row), args={"args": [row.id, row.version]}))
            count += 1
            if count % batch == 0:
                session.flush()
    if feeds:
        for key in feed_keys(session):
            session.add(OutboxRow(task=TASK_REBUILD_FEED, args={"args": [key]}))
            count += 1
    session.flush()
    return count


def unsent(session: Session, since_id: int) -> int:
    return session.scalar(
        select(func.count()).where(OutboxRow.id > since_id, OutboxRow.sent_at.is_(None))
    )


def last_outbox_id(session: Session) -> int:
    return session.scalar(select(func.max(OutboxRow.id))) or 0
