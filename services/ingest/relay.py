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
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ingest.broker import Sender
from shared import logs
from shared.models import OutboxRow, utcnow
from shared.sending import BoundedSender
from shared.tasknames import ARTICLE_TASKS

log = logging.getLogger(__name__)
CLAIM_FOR = timedelta(seconds=30)
MAX_BACKOFF = 1.0


def _claim(sessions: sessionmaker[Session], row_id: int) -> tuple[str, dict] | None:
    """Claim the row and read what to send, in one short transaction; None if not ours."""
    now = utcnow()
    with sessions.begin() as session:
        won = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == row_id,
                OutboxRow.sent_at.is_(None),
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
            )
            .values(claimed_until=now + CLAIM_FOR)
        ).rowcount
        if not won:
            return None
        row = session.get(OutboxRow, row_id)
        return row.task, row.args


def send_one(sessions: sessionmaker[Session], send: Sender, row_id: int) -> bool:
    """Send one row if nobody else is; True when it went out.

    No transaction is open while the broker is waited on: on SQLite a transaction here
    holds the one write lock (BEGIN IMMEDIATE), and a send to a hung broker held every
    POST behind it for the whole send (measured: POSTs of 1.05 s during a Redis SIGSTOP).
    """
    claimed = _claim(sessions, row_id)
    if claimed is None:
        return False
    task, args = claimed
    headers = args.get("headers") or {}
    with logs.bound(**_log_fields(task, args["args"], headers)):
        try:
            send(task, args["args"], args.get("eta"), headers or None)
        except Exception as exc:  # the broker is away: keep the row, release the claim
            error = f"{type(exc).__name__}: {exc}"[:1000]
            _finish(sessions, row_id, last_error=error, claimed_until=None)
            log.warning("outbox %s not sent yet: %s", row_id, error, extra={"outbox_id": row_id})
            return False
        _finish(sessions, row_id, sent_at=utcnow())
        log.info("outbox %s sent: %s", row_id, task, extra={"outbox_id": row_id})
    return True


def _log_fields(task: str, task_args: list, headers: dict) -> dict:
    """What a log line of this send names: the request that made the row and, for an
    article's task (args ``[article id, version]``), the article."""
    fields = {"task": task, "request_id": headers.get("request_id")}
    if task in ARTICLE_TASKS and len(task_args) == 2:
        fields |= {"article_id": task_args[0], "version": task_args[1]}
    return fields


def _finish(sessions: sessionmaker[Session], row_id: int, **values) -> None:
    with sessions.begin() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id)
            .values(attempts=OutboxRow.attempts + 1, **values)
        )


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


class AfterCommit:
    """Sends a request's committed outbox row at once, on a thread of its own.

    Off the request thread, by measurement (docs/operations.md, "When Redis hangs"): the
    send after commit is a claim, a publish and a mark, two more commits. On PostgreSQL they
    made a POST's median 90 ms instead of 50 ms handed off (34 ms with no send at all); on
    SQLite the two came out even, the thread's commits queueing for the one write lock. And
    on a hung broker a request never waits, where in the request the first one per cooldown
    would wait the sender's whole deadline.

    Nothing is lost either way: the row is committed before it is queued. A row skipped
    (the breaker is open, or ``limit`` rows are already waiting) or not sent is the relay's;
    queued ids are still sent at interpreter exit (the pool's thread is joined then), and a
    process killed mid-send leaves a claim the relay takes over once it expires.
    """

    def __init__(
        self, sessions: sessionmaker[Session], send: BoundedSender, limit: int = 100
    ) -> None:
        self.sessions = sessions
        self.send = send
        self.limit = limit
        self._waiting = 0
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0

    def submit(self, row_id: int) -> bool:
        """Queue the row for sending; False when it is left to the relay."""
        if not self.send.available():
            return False
        with self._lock:
            if self._waiting >= self.limit:
                return False
            self._waiting += 1
            pool = self._executor()
        pool.submit(self._send, row_id)
        return True

    def _send(self, row_id: int) -> None:
        try:
            if self.send.available():  # it may have opened while this id waited
                send_one(self.sessions, self.send, row_id)
        except Exception:  # the database: the row stays in the outbox for the relay
            log.exception("outbox %s: send after commit failed; the relay will send it", row_id)
        finally:
            with self._lock:
                self._waiting -= 1

    def _executor(self) -> ThreadPoolExecutor:
        # Per process: a server that forks workers after loading the app gives each its own.
        if self._pool is None or self._pool_pid != os.getpid():
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="after-commit")
            self._pool_pid = os.getpid()
            self._waiting = 1  # the id being submitted now; counts from a fork are stale
        return self._pool
