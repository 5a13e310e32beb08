"""The audit log is pruned to its retention by the periodic job (real store, both kinds)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from ingest import maintenance
from shared import partners
from shared.db import make_engine, make_sessionmaker
from shared.models import AuditRow, utcnow


def test_the_job_removes_rows_older_than_the_retention(database_url):
    sessions = make_sessionmaker(make_engine(database_url, immediate=True))
    route = f"/prune-{uuid.uuid4().hex}"
    with sessions.begin() as session:
        for days in (1, 29, 31, 400):
            partners.record(
                session, at=utcnow() - timedelta(days=days), method="GET", route=route, status=200
            )
    maintenance.prune_audit(sessions, retention_days=30)
    with sessions() as session:
        ages = session.scalars(select(AuditRow.at).where(AuditRow.route == route)).all()
    assert len(ages) == 2
    assert all(utcnow() - at < timedelta(days=30) for at in ages)


def test_the_periodic_runner_repeats_and_survives_a_failing_job():
    calls = []

    def failing():
        calls.append("fail")
        raise RuntimeError("boom")

    stop = maintenance.start([failing, lambda: calls.append("ok")], every=0.05)
    try:
        deadline = time.monotonic() + 5
        while calls.count("ok") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
    assert calls.count("ok") >= 3 and calls.count("fail") >= 3


def test_nothing_is_pruned_within_the_retention(database_url):
    sessions = make_sessionmaker(make_engine(database_url, immediate=True))
    route = f"/keep-{uuid.uuid4().hex}"
    with sessions.begin() as session:
        partners.record(session, at=utcnow(), method="GET", route=route, status=200)
    maintenance.prune_audit(sessions, retention_days=1)
    with sessions() as session:
        kept = session.scalar(select(func.count()).where(AuditRow.route == route))
    assert kept == 1
