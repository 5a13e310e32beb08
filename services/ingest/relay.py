"""The outbox relay: send committed outbox rows to Celery, by task name.

A row is claimed (an UPDATE that only one relay can win) before it is sent, and marked sent
after; a relay that dies between the two leaves a claim that expires, so the row is sent
again. Tasks are idempotent per (article id, version), which makes that duplicate harmless.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ingest.broker import Sender
from shared.models import OutboxRow, utcnow

log = logging.getLogger(__name__)
CLAIM_FOR = timedelta(seconds=30)


def _claim(session: Session, row_id: int) -> OutboxRow | None:
    now = utcnow()
    won = session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.id == row_id,
            OutboxRow.sent_at.is_(None),
            or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
        )
        .values(claimed_until=now + CLAIM_FOR)
    ).rowcount
    session.commit()
    return session.get(OutboxRow, row_id) if won else None


def send_one(sessions: sessionmaker[Session], send: Sender, row_id: int) -> bool:
    """Send one row if nobody else is; True when it went out."""
    with sessions() as session:
        row = _claim(session, row_id)
        if row is None:
            return False
        try:
            send(row.task, row.args["args"], row.args.get("eta"))
        except Exception as exc:  # the broker is away: keep the row, release the claim
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            row.claimed_until = None
            session.commit()
            log.warning("outbox %s not sent yet: %s", row_id, row.last_error)
            return False
        row.sent_at = utcnow()
        row.attempts += 1
        session.commit()
        return True


def pending_ids(sessions: sessionmaker[Session], limit: int = 100) -> list[int]:
    with sessions() as session:
        return list(
            session.scalars(
                select(OutboxRow.id)
                .where(OutboxRow.sent_at.is_(None))
                .order_by(OutboxRow.id)
                .limit(limit)
            )
        )


def relay_pending(sessions: sessionmaker[Session], send: Sender, limit: int = 100) -> int:
    """One pass over the pending rows; stops at the first failure (the broker is down)."""
    sent = 0
    for row_id in pending_ids(sessions, limit):
        if send_one(sessions, send, row_id):
            sent += 1
        elif _still_pending_unclaimed(sessions, row_id):
            break
    return sent


def _still_pending_unclaimed(sessions: sessionmaker[Session], row_id: int) -> bool:
    with sessions() as session:
        row = session.get(OutboxRow, row_id)
        return row is not None and row.sent_at is None and row.claimed_until is None


def run_forever(
    sessions: sessionmaker[Session], send: Sender, interval: float, stop=lambda: False
) -> None:
    log.info("outbox relay running, every %.2fs", interval)
    while not stop():
        try:
            if relay_pending(sessions, send):
                continue  # more may be waiting; no sleep while there is a backlog
        except Exception:
            log.exception("outbox relay pass failed; retrying")
        time.sleep(interval)
