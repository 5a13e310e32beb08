"""``newsflow scheduler``: the periodic jobs (embargo releases, audit pruning, and whatever
else registers a ``Job``), in one process of their own.

Its state is the database, never the broker: an embargo is a row with status ``embargoed``
and ``embargoed_until``, so a scheduler (or a Redis) that restarts finds every due release
where it left it. Each job is a plain function ``fn(ctx) -> next_due``: it does one pass and
says when it wants to run again (an aware datetime), or None for "in ``every_seconds``".
``every_seconds`` also bounds the wait, so a job that said "in an hour" still looks again
within that: the embargo job asks every second, which is how an embargo posted meanwhile is
seen in time. The loop sleeps until the earliest job is due, at most ``MAX_SLEEP_S``.

Two schedulers may run at once (a standby, or a rolling restart): every job must be safe
concurrently. The embargo job claims each release with a conditional UPDATE (newsflow.jobs),
so exactly one scheduler sends it; pruning is a DELETE of old rows, harmless twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from shared.models import utcnow
from shared.sending import BoundedSender
from shared.settings import Settings

log = logging.getLogger(__name__)

# The longest the loop sleeps: a job's next_due can come nearer while it sleeps (a new
# embargo, due in half a second, posted while the next known one is an hour away).
MAX_SLEEP_S = 1.0
# A job that raised runs again after this, not at once (the database may be away).
RETRY_AFTER_S = 2.0


@dataclass
class SchedulerContext:
    settings: Settings
    sessions: sessionmaker[Session]  # writes: on SQLite, BEGIN IMMEDIATE
    readers: sessionmaker[Session]  # reads: never take SQLite's write lock
    send: BoundedSender  # to the broker, bounded; what it cannot send stays in the outbox

    @classmethod
    def build(cls, settings: Settings) -> SchedulerContext:
        from ingest.broker import make_celery_client, relay_sender
        from shared.db import make_engine, make_sessionmaker

        return cls(
            settings=settings,
            sessions=make_sessionmaker(make_engine(settings.database_url, immediate=True)),
            readers=make_sessionmaker(make_engine(settings.database_url)),
            send=relay_sender(make_celery_client(settings.redis_url)),
        )


NextDue = datetime | None


@dataclass(frozen=True)
class Job:
    """One periodic job: ``fn(ctx)`` does a pass and returns when it wants to run next
    (None: ``every_seconds`` from now; never later than that either)."""

    name: str
    every_seconds: float
    fn: Callable[[SchedulerContext], NextDue]


@dataclass
class _Slot:
    job: Job
    due: datetime
    failures: int = 0


@dataclass
class Scheduler:
    ctx: SchedulerContext
    jobs: list[Job]
    clock: Callable[[], datetime] = utcnow
    max_sleep: float = MAX_SLEEP_S
    _slots: list[_Slot] = field(init=False)

    def __post_init__(self) -> None:
        now = self.clock()
        self._slots = [_Slot(job, now) for job in self.jobs]  # every job runs once at start

    def run_due(self) -> float:
        """Run every job that is due; returns how long to sleep before the next one."""
        for slot in self._slots:
            now = self.clock()
            if slot.due > now:
                continue
            slot.due = self._run(slot, now)
        now = self.clock()
        idle = now + timedelta(seconds=self.max_sleep)
        earliest = min((s.due for s in self._slots), default=idle)
        return min(max((earliest - now).total_seconds(), 0.0), self.max_sleep)

    def _run(self, slot: _Slot, now: datetime) -> datetime:
        job = slot.job
        latest = now + timedelta(seconds=job.every_seconds)
        try:
            wanted = job.fn(self.ctx)
        except Exception:
            slot.failures += 1
            log.exception("job %s failed (%d in a row); it runs again", job.name, slot.failures)
            return now + timedelta(seconds=min(RETRY_AFTER_S * slot.failures, job.every_seconds))
        slot.failures = 0
        return latest if wanted is None else min(wanted, latest)

    def run_forever(
        self, stop: threading.Event | None = None, beat: Callable[[], None] = lambda: None
    ) -> None:
        stop = stop or threading.Event()
        log.info("scheduler running: %s", ", ".join(j.name for j in self.jobs))
        while not stop.is_set():
            beat()
            pause = self.run_due()
            if pause > 0:
                stop.wait(pause)


def default_jobs() -> list[Job]:
    """Every job the scheduler runs. Another part registers its job here (one line)."""
    from newsflow import jobs
    from shared.webhooks import deliveries

    return [
        Job("release-embargoes", jobs.EMBARGO_EVERY_S, jobs.release_embargoes),
        Job("prune-audit", jobs.PRUNE_EVERY_S, jobs.prune_audit),
        # Webhook retries due later than a Celery countdown may wait, and changes or
        # deliveries whose tasks were lost with the broker (shared.webhooks.deliveries).
        Job("webhook-retries", deliveries.WEBHOOK_SWEEP_EVERY_S, deliveries.due_deliveries),
    ]
