"""The outbox relay: send committed outbox rows to Celery, by task name.

A row is claimed (an UPDATE that only one relay can win) before it is sent, and marked sent
after; a relay that dies between the two leaves a claim that expires, so the row is sent
again. Tasks are idempotent per (article id, version), which makes that duplicate harmless.

A hung broker never stalls the relay for long: each send is bounded
(``ingest.broker.RELAY_DEADLINE``), a pass stops at the first failure, and the next pass
comes after a backoff that doubles from the interval up to ``MAX_BACKOFF``, so the relay
resumes within about a second of the broker answering again.
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
MAX_BACKOFF = 1.0


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
    return relay_pass(sessions, send, limit)[0]


def relay_pass(sessions: sessionmaker[Session], send: Sender, limit: int = 100) -> tuple[int, bool]:
    """(rows sent, whether the pass stopped on a failed send)."""
    sent = 0
    for row_id in pending_ids(sessions, limit):
        if send_one(sessions, send, row_id):
            sent += 1
        elif _still_pending_unclaimed(sessions, row_id):
            return sent, True
    return sent, False


def _still_pending_unclaimed(sessions: sessionmaker[Session], row_id: int) -> bool:
    with sessions() as session:
        row = session.get(OutboxRow, row_id)
        return row is not None and row.sent_at is None and row.claimed_until is None


def next_pause(interval: float, failures: int) -> float:
    """The pause before the next pass after ``failures`` failed passes in a row."""
    if failures == 0:
        return interval
    return min(interval * 2 ** (failures - 1), max(interval, MAX_BACKOFF))


def run_forever(
    sessions: sessionmaker[Session], send: Sender, interval: float, stop=lambda: False
) -> None:
    log.info("outbox relay running, every %.2fs", interval)
    failures = 0
    while not stop():
        try:
            sent, failed = relay_pass(sessions, send)
        except Exception:
            log.exception("outbox relay pass failed; retrying")
            sent, failed = 0, True
        failures = failures + 1 if failed else 0
        if sent and not failed:
            continue  # more may be waiting; no sleep while there is a backlog
        time.sleep(next_pause(interval, failures))
