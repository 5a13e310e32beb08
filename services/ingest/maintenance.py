"""Periodic housekeeping that runs beside the outbox relay (its own process, one per
deployment): the audit log is pruned to ``AUDIT_RETENTION_DAYS``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from shared import partners
from shared.models import utcnow

log = logging.getLogger(__name__)
EVERY_S = 3600.0


def prune_audit(sessions: sessionmaker[Session], retention_days: int) -> int:
    with sessions.begin() as session:
        removed = partners.prune_audit(session, utcnow() - timedelta(days=retention_days))
    if removed:
        log.info("pruned %d audit row(s) older than %d days", removed, retention_days)
    return removed


def start(jobs: list[Callable[[], object]], every: float = EVERY_S) -> threading.Event:
    """Run each job now and then every ``every`` seconds, in a daemon thread; a failing job
    is logged and tried again next time. Set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            for job in jobs:
                try:
                    job()
                except Exception:
                    log.exception("periodic job %s failed; it runs again later", job)
            if stop.wait(every):
                return

    threading.Thread(target=loop, name="maintenance", daemon=True).start()
    return stop
