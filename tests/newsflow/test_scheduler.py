"""The scheduler's loop (newsflow.scheduler): when each job runs, how long it sleeps, and that
a failing job neither stops the others nor runs again at once. A clock of the test's own; the
jobs are plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsflow.scheduler import MAX_SLEEP_S, RETRY_AFTER_S, Job, Scheduler

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def scheduler(clock: Clock, *jobs: Job) -> Scheduler:
    return Scheduler(ctx=None, jobs=list(jobs), clock=clock)


def test_every_job_runs_at_start():
    ran = []
    s = scheduler(
        Clock(),
        Job("a", 3600, lambda ctx: ran.append("a")),
        Job("b", 60, lambda ctx: ran.append("b")),
    )
    s.run_due()
    assert ran == ["a", "b"]


def test_it_sleeps_until_the_due_time_a_job_names():
    clock = Clock()
    s = scheduler(clock, Job("e", 1.0, lambda ctx: T0 + timedelta(seconds=0.3)))
    assert s.run_due() == 0.3


def test_it_never_sleeps_longer_than_the_bound():
    clock = Clock()
    s = scheduler(clock, Job("far", 3600, lambda ctx: T0 + timedelta(days=1)))
    assert s.run_due() == MAX_SLEEP_S


def test_a_far_due_time_is_looked_at_again_after_every_seconds():
    clock, calls = Clock(), []

    def job(ctx):
        calls.append(clock())
        return clock() + timedelta(hours=1)

    s = scheduler(clock, Job("embargo", 1.0, job))
    s.run_due()
    clock.advance(0.5)
    s.run_due()
    assert len(calls) == 1
    clock.advance(0.5)
    s.run_due()
    assert len(calls) == 2  # a new embargo, due sooner, would be seen now


def test_a_past_due_time_runs_the_job_again_at_once():
    clock, calls = Clock(), []

    def job(ctx):
        calls.append(1)
        return clock() - timedelta(seconds=5) if len(calls) == 1 else None

    s = scheduler(clock, Job("backlog", 1.0, job))
    assert s.run_due() == 0
    s.run_due()
    assert len(calls) == 2


def test_a_failing_job_waits_before_it_runs_again_and_the_others_run():
    clock, ran = Clock(), []

    def boom(ctx):
        ran.append("boom")
        raise RuntimeError("the database is away")

    s = scheduler(clock, Job("boom", 60, boom), Job("ok", 0.5, lambda ctx: ran.append("ok")))
    s.run_due()
    assert ran == ["boom", "ok"]
    clock.advance(RETRY_AFTER_S - 0.1)
    s.run_due()
    assert ran.count("boom") == 1
    clock.advance(0.2)
    s.run_due()
    assert ran.count("boom") == 2
