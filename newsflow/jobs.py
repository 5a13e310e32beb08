"""The scheduler's jobs (newsflow.scheduler): each a pass over the database, safe to run in
two schedulers at once.

Releasing an embargo is the render page step sent again for (article id, version): the
worker finds the embargo over and publishes (render.services.publish_page, which appends the
"released" change). The step goes out through the outbox, like every task: the claim and the
outbox row commit together, then the row is sent; if Redis is away the relay sends it later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ingest.relay import send_one
from newsflow.scheduler import NextDue, SchedulerContext
from shared import partners
from shared.models import ArticleRow, OutboxRow, utcnow
from shared.tasknames import TASK_RENDER_PAGE

log = logging.getLogger(__name__)

EMBARGO_EVERY_S = 1.0  # an embargo posted meanwhile is seen within this
RELEASE_BATCH = 200
PRUNE_EVERY_S = 3600.0
EMBARGOED = "embargoed"


def _due(ctx: SchedulerContext, now: datetime) -> list[tuple[str, int, datetime]]:
    # The index ix_articles_status_embargo (status, embargoed_until) answers this.
    with ctx.readers() as session:
        rows = session.execute(
            select(ArticleRow.id, ArticleRow.version, ArticleRow.embargoed_until)
            .where(ArticleRow.status == EMBARGOED, ArticleRow.embargoed_until <= now)
            .order_by(ArticleRow.embargoed_until)
            .limit(RELEASE_BATCH)
        ).all()
    return [tuple(r) for r in rows]


def claim_releases(ctx: SchedulerContext, now: datetime | None = None) -> list[int]:
    """Claim every due embargo and write its release to the outbox, in one transaction;
    returns the outbox ids. The claim is a conditional UPDATE (status embargoed -> queued,
    for this version only): of two schedulers, the second finds the row no longer
    ``embargoed`` (PostgreSQL re-checks the WHERE after the first one's commit; SQLite has
    one writer at a time) and writes nothing, so a release is sent once. A newer version
    posted meanwhile changes ``version`` and makes the claim miss, as it should."""
    now = now or utcnow()
    due = _due(ctx, now)
    if not due:
        return []
    ids = []
    with ctx.sessions.begin() as session:
        for article_id, version, until in due:
            won = session.execute(
                update(ArticleRow)
                .where(
                    ArticleRow.id == article_id,
                    ArticleRow.version == version,
                    ArticleRow.status == EMBARGOED,
                )
                .values(
                    status="queued",
                    status_reason=f"embargo over at {until.isoformat()}; being published",
                )
            ).rowcount
            if not won:
                continue
            row = OutboxRow(task=TASK_RENDER_PAGE, args={"args": [article_id, version]})
            session.add(row)
            session.flush()
            ids.append(row.id)
    return ids


def next_embargo(ctx: SchedulerContext) -> datetime | None:
    with ctx.readers() as session:
        return session.scalar(
            select(ArticleRow.embargoed_until)
            .where(ArticleRow.status == EMBARGOED, ArticleRow.embargoed_until.is_not(None))
            .order_by(ArticleRow.embargoed_until)
            .limit(1)
        )


def release_embargoes(ctx: SchedulerContext) -> NextDue:
    """Release what is due, then say when the next embargo ends (the scheduler sleeps until
    then, looking again every second for new ones)."""
    claimed = claim_releases(ctx)
    for outbox_id in claimed:
        # Committed already: a failed send leaves the row to the relay (it retries when
        # Redis is back), and the rest with it, rather than waiting out each send.
        if not send_one(ctx.sessions, ctx.send, outbox_id):
            log.warning("embargo releases left to the outbox relay: the broker did not answer")
            break
    if claimed:
        log.info("released %d embargoed article(s)", len(claimed))
    # In the past when more than a batch was due: the scheduler runs this again at once.
    return next_embargo(ctx)


def prune_audit(ctx: SchedulerContext) -> NextDue:
    """The audit log kept to AUDIT_RETENTION_DAYS (docs/operations.md)."""
    days = ctx.settings.audit_retention_days
    with ctx.sessions.begin() as session:
        removed = partners.prune_audit(session, utcnow() - timedelta(days=days))
    if removed:
        log.info("pruned %d audit row(s) older than %d days", removed, days)
    return None
