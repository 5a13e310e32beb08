"""The change log: what partners pull (feed.partner) and webhooks push, in one order.

Every publication, update, withdrawal and embargo release of an article appends one row in
the transaction that makes the change, so the log and the store never disagree. A reader
walks it by ``seq`` and must never skip a row: on PostgreSQL two transactions could draw
sequence values 100 and 101 and commit 101 first; a reader that saw 101 would move its cursor
past 100 for good. Appenders therefore take a table lock first (``_serialize_appends``), so
values are drawn and committed one transaction at a time; readers take no lock at all. On
SQLite a writer holds the database's write lock from ``BEGIN IMMEDIATE`` anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shared.models import ArticleRow, ChangePlace, ChangeRow

OP_PUBLISHED = "published"  # first made public
OP_UPDATED = "updated"  # a new version of a public article
OP_WITHDRAWN = "withdrawn"  # taken down (a tombstone: no content)
OP_RELEASED = "released"  # a version held by its embargo made public
OPS = (OP_PUBLISHED, OP_UPDATED, OP_WITHDRAWN, OP_RELEASED)

AUDIENCE_ALL = "all"
# A version held by its embargo: only partners with embargo:read see it, flagged.
AUDIENCE_EMBARGO = "embargo"


def _serialize_appends(session: Session) -> None:
    # SHARE ROW EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE lock an INSERT
    # takes, never with a reader's ACCESS SHARE. Held to commit, so ids commit in order.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE changes IN SHARE ROW EXCLUSIVE MODE"))


def last_change(session: Session, article_id: str) -> ChangeRow | None:
    return session.scalars(
        select(ChangeRow)
        .where(ChangeRow.article_id == article_id)
        .order_by(ChangeRow.seq.desc())
        .limit(1)
    ).first()


def was_public(session: Session, article_id: str) -> bool:
    """Whether everybody has seen this article (a change for all that is not a withdrawal
    is its newest for all)."""
    newest = session.scalars(
        select(ChangeRow.op)
        .where(ChangeRow.article_id == article_id, ChangeRow.audience == AUDIENCE_ALL)
        .order_by(ChangeRow.seq.desc())
        .limit(1)
    ).first()
    return newest is not None and newest != OP_WITHDRAWN


def append(
    session: Session,
    row: ArticleRow,
    op: str,
    audience: str = AUDIENCE_ALL,
    *,
    doc: dict | None = None,
    media: dict | None = None,
) -> ChangeRow:
    """Append one change of ``row`` (its current id, version and source) in the caller's
    transaction. ``doc`` and ``media`` are the version as published; None for a withdrawal."""
    if op not in OPS or audience not in (AUDIENCE_ALL, AUDIENCE_EMBARGO):
        raise ValueError(f"bad change {op!r} for {audience!r}")
    _serialize_appends(session)
    change = ChangeRow(
        article_id=row.id,
        version=row.version,
        op=op,
        audience=audience,
        source=row.source,
        doc=doc,
        media=media,
    )
    session.add(change)
    session.flush()
    names = {p["name"] for p in (doc or row.doc or {}).get("places", [])}
    session.add_all(ChangePlace(name=name, seq=change.seq) for name in sorted(names))
    return change


@dataclass(frozen=True)
class Page:
    changes: list[ChangeRow]
    last_seq: int  # the cursor after this page: the last row read, or the one given
    has_more: bool


def read(
    session: Session,
    after: int,
    limit: int,
    *,
    embargo: bool = False,
    source: str | None = None,
    region: str | None = None,
) -> Page:
    """Up to ``limit`` changes after ``after``, in order, that the reader may see."""
    query = select(ChangeRow).where(ChangeRow.seq > after)
    if region is not None:
        query = query.join(ChangePlace, ChangePlace.seq == ChangeRow.seq).where(
            ChangePlace.name == region
        )
    if source is not None:
        query = query.where(ChangeRow.source == source)
    if not embargo:
        query = query.where(ChangeRow.audience == AUDIENCE_ALL)
    rows = list(session.scalars(query.order_by(ChangeRow.seq).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].seq if rows else after, more)


def history(session: Session, article_id: str, *, embargo: bool = False) -> list[ChangeRow]:
    query = select(ChangeRow).where(ChangeRow.article_id == article_id)
    if not embargo:
        query = query.where(ChangeRow.audience == AUDIENCE_ALL)
    return list(session.scalars(query.order_by(ChangeRow.seq)))


def seq_before(session: Session, moment: datetime) -> int:
    """The cursor that starts at the first change made at or after ``moment``."""
    return session.scalar(select(func.max(ChangeRow.seq)).where(ChangeRow.at < moment)) or 0


def head(session: Session) -> int:
    return session.scalar(select(func.max(ChangeRow.seq))) or 0
