"""Deliveries: claiming an attempt, recording what came of it, the log, resending, and the
sweep that sends the due retries.

Retries (Standard Webhooks, "Retry schedule"; the schedule itself is ours): an attempt that
failed in a way that may pass (no answer, a timeout, a 5xx, 408 or 429) is tried again after
``base * 4**(n-1)`` seconds (n: failed attempts so far), capped, with ±20 % jitter so that
endpoints recovering together are not hit in step; ``Retry-After`` on a 429 or 503
(RFC 9110 10.2.3) is honoured, up to the cap. With the defaults (5 s, cap 4 h, 10 attempts)
the retries span about 14 hours. Any other 4xx is final (the partner refused this request;
sending it again will not change that), and ``410 Gone`` disables the endpoint. An endpoint
with no successful attempt for WEBHOOK_DISABLE_AFTER is disabled, with the reason.

The time of the next attempt lives here, not in the broker: a Celery countdown longer than
the broker's visibility timeout is delivered twice on Redis, and it is lost with the broker.
The worker uses a countdown only for retries due within ``COUNTDOWN_MAX_S``; the scheduler
runs ``due_deliveries`` for the rest (and for any task that was lost).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from shared.models import (
    ArticleRow,
    ChangeRow,
    OutboxRow,
    Partner,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from shared.settings import Settings
from shared.tasknames import TASK_WEBHOOK_DELIVER, TASK_WEBHOOKS_DISPATCH
from shared.webhooks import dispatch, endpoints, payload, secretbox
from shared.webhooks.states import DELIVERED, ENABLED, FAILED, PENDING, RETRYING, WAITING

# An attempt holds its delivery this long at most: connect + read timeouts and the reply's
# deadline (render.delivery) fit well inside, so a crashed sender's claim lapses soon.
CLAIM_FOR = timedelta(seconds=60)
# A Celery countdown only this long (far below the 900 s visibility timeout, render.app).
COUNTDOWN_MAX_S = 60.0
SWEEP_LIMIT = 500
# How often the scheduler sweeps (newsflow.scheduler): retries further ahead than
# COUNTDOWN_MAX_S and lost tasks wait at most this long beyond their time.
WEBHOOK_SWEEP_EVERY_S = 5
MAX_ERROR = 2000


@dataclass(frozen=True)
class Policy:
    base_s: float
    max_s: float
    max_attempts: int
    disable_after: timedelta

    @classmethod
    def from_settings(cls, s: Settings) -> Policy:
        return cls(
            s.webhook_retry_base_s,
            s.webhook_retry_max_s,
            s.webhook_max_attempts,
            timedelta(seconds=s.webhook_disable_after_s),
        )

    def delay(self, failed: int, retry_after: float | None = None, rand=random.random) -> float:
        """Seconds until the next attempt after ``failed`` failed attempts."""
        backoff = min(self.base_s * 4 ** max(failed - 1, 0), self.max_s)
        backoff *= 0.8 + 0.4 * rand()
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.max_s))
        return backoff


@dataclass(frozen=True)
class Attempt:
    """What one attempt sends: to where, the body, the secrets to sign it with."""

    delivery_id: str
    url: str
    body: bytes
    secrets: list[str]
    attempt: int  # 1 for the first


@dataclass(frozen=True)
class Claim:
    attempt: Attempt | None = None
    wait_s: float | None = None  # not due yet: try again in this many seconds
    skipped: str | None = None  # why there is nothing to do


@dataclass(frozen=True)
class Result:
    """What came of an attempt (render.delivery.Reply, as the store needs it)."""

    status: int | None
    error: str | None
    transient: bool
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _locked(
    session: Session, delivery_id: str
) -> tuple[WebhookDelivery | None, WebhookEndpoint | None]:
    """The delivery and its endpoint, locked in that order everywhere (endpoint first, as the
    dispatcher does): recording a 410 updates the endpoint's other deliveries, and two
    attempts locking delivery-then-endpoint would deadlock on PostgreSQL."""
    endpoint_id = session.scalar(
        select(WebhookDelivery.endpoint_id).where(WebhookDelivery.id == delivery_id)
    )
    if endpoint_id is None:
        return None, None
    endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if endpoint is None or delivery is None:
        return None, None
    return delivery, endpoint


def claim(
    session: Session,
    delivery_id: str,
    now: datetime,
    server_secret: bytes,
    base_url: str,
) -> Claim:
    """Take the delivery for one attempt if it is due and nobody else has it."""
    d, endpoint = _locked(session, delivery_id)
    if d is None:
        return Claim(skipped="no such delivery")
    if d.status not in WAITING:
        return Claim(skipped=d.status)
    if d.claimed_until is not None and d.claimed_until > now:
        # Look again once the claim lapses: if its attempt died before recording (the
        # store away after the POST), this task, retried, takes over.
        wait = (d.claimed_until - now).total_seconds() + 1
        return Claim(wait_s=wait, skipped="an attempt is in flight")
    if d.next_attempt_at is not None and d.next_attempt_at > now:
        return Claim(wait_s=(d.next_attempt_at - now).total_seconds())
    if endpoint.status != ENABLED:
        return _give_up(d, f"endpoint disabled: {endpoint.disabled_reason}")
    change = session.get(ChangeRow, d.seq)
    # Checked again at each attempt: a partner revoked, or no longer allowed to see
    # embargoed content, since the delivery was made gets nothing more.
    if not dispatch.wants(endpoint, session.get(Partner, endpoint.partner_id), change):
        return _give_up(d, "the partner may no longer receive this change (revoked or scopes)")
    try:
        secrets = endpoints.signing_secrets(endpoint, server_secret, now)
    except secretbox.SecretError as exc:
        return _give_up(d, str(exc))
    guid = session.scalar(select(ArticleRow.guid).where(ArticleRow.id == d.article_id)) or ""
    d.claimed_until = now + CLAIM_FOR
    return Claim(
        Attempt(
            delivery_id, endpoint.url, payload.body(change, guid, base_url), secrets,
            d.attempts + 1,
        )
    )  # fmt: skip


def _give_up(d: WebhookDelivery, reason: str) -> Claim:
    d.status, d.next_attempt_at, d.last_error = FAILED, None, reason[:MAX_ERROR]
    return Claim(skipped=reason)


def record(
    session: Session, delivery_id: str, result: Result, now: datetime, policy: Policy
) -> datetime | None:
    """Record an attempt's outcome; the time of the next attempt, or None when done."""
    d, endpoint = _locked(session, delivery_id)
    if d is None:
        return None  # removed with its endpoint meanwhile
    d.attempts += 1
    d.last_attempt_at = now
    d.last_status = result.status
    d.claimed_until = None
    d.next_attempt_at = None
    if result.ok:
        d.status, d.delivered_at, d.last_error = DELIVERED, now, None
        endpoint.failing_since = None
        return None
    d.last_error = (result.error or f"answered {result.status}")[:MAX_ERROR]
    endpoint.failing_since = endpoint.failing_since or now
    if result.status == 410:
        d.status = FAILED
        endpoints.disable(session, endpoint, f"{endpoint.url} answered 410 Gone", now)
        return None
    if now - endpoint.failing_since >= policy.disable_after:
        d.status = FAILED
        endpoints.disable(
            session, endpoint,
            f"no successful delivery since {endpoint.failing_since.isoformat()} "
            f"(WEBHOOK_DISABLE_AFTER {policy.disable_after}); last: {d.last_error}",
            now,
        )  # fmt: skip
        return None
    if not result.transient:
        d.status = FAILED  # a 4xx other than 408/429, or a refused address: never retried
        return None
    if d.attempts >= policy.max_attempts:
        d.status = FAILED
        d.last_error = f"given up after {d.attempts} attempts; last: {d.last_error}"[:MAX_ERROR]
        return None
    d.status = RETRYING
    d.next_attempt_at = now + timedelta(seconds=policy.delay(d.attempts, result.retry_after))
    d.queued_until = d.next_attempt_at + dispatch.QUEUED_FOR
    return d.next_attempt_at


# --- the log and resending ---------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    id: str
    endpoint_id: str
    event: str
    seq: int
    article_id: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def log(
    session: Session, partner_name: str, limit: int = 100, status: str | None = None
) -> list[LogLine]:
    """A partner's deliveries, newest first."""
    pairs = endpoints.of_partner(session, partner_name)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id.in_([e.id for _, e in pairs]))
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.seq.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return [
        LogLine(
            d.id, d.endpoint_id, d.event, d.seq, d.article_id, d.status, d.attempts,
            d.last_status, d.last_error, d.created_at, d.next_attempt_at, d.delivered_at,
        )
        for d in session.scalars(query)
    ]  # fmt: skip


def _requeue(session: Session, d: WebhookDelivery, now: datetime) -> None:
    d.status, d.next_attempt_at, d.claimed_until = PENDING, now, None
    d.queued_until = now + dispatch.QUEUED_FOR
    # The transactional outbox: the task goes out (by the relay) only once this commits.
    session.add(OutboxRow(task=TASK_WEBHOOK_DELIVER, args={"args": [d.id]}))


def resend(session: Session, delivery_id: str, now: datetime) -> WebhookDelivery:
    """Send a delivery again, whatever its state: the same id and body, a new timestamp."""
    d = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if d is None:
        raise endpoints.WebhookError(
            f"no delivery {delivery_id!r} (see `newsflow partner deliveries NAME`)"
        )
    endpoint = session.get(WebhookEndpoint, d.endpoint_id)
    if endpoint.status != ENABLED:
        raise endpoints.WebhookError(
            f"endpoint {endpoint.id} is disabled ({endpoint.disabled_reason}); enable it "
            f"first: `newsflow partner webhook enable {endpoint.id}`"
        )
    _requeue(session, d, now)
    return d


def resend_since(
    session: Session, since: datetime, now: datetime, partner_name: str | None = None
) -> tuple[list[str], int]:
    """Send again every delivery made at or after ``since`` (of one partner, or all) to an
    enabled endpoint. Returns the ids resent and how many were skipped (endpoint disabled)."""
    query = (
        select(WebhookDelivery, WebhookEndpoint.status)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.created_at >= since)
        .order_by(WebhookDelivery.seq)
    )
    if partner_name is not None:
        query = query.join(Partner, Partner.id == WebhookEndpoint.partner_id).where(
            Partner.name == partner_name
        )
    resent, skipped = [], 0
    for d, endpoint_status in session.execute(query).all():
        if endpoint_status != ENABLED:
            skipped += 1
            continue
        _requeue(session, d, now)
        resent.append(d.id)
    return resent, skipped


# --- the scheduler's job -----------------------------------------------------------------


def due_deliveries(ctx, now: datetime | None = None) -> datetime | None:
    """The scheduler's job "send due webhook retries" (newsflow.scheduler):
    ``Job("webhook-retries", 5, deliveries.due_deliveries)``.

    ``ctx`` is anything with ``sessions``, a sessionmaker for writes (and ``readers``, one
    for reads, if it has one). In one transaction:
    dispatch any change no task has dispatched yet (a dispatch task lost with the broker),
    then, for every delivery due and not claimed nor already on its way, write an outbox
    row (the relay sends it by name once this commits; the worker's claim makes a
    duplicate harmless). Returns when to run next: the earliest next attempt still ahead,
    or None when nothing waits.
    """
    now = now or utcnow()
    # A read first: most passes find nothing to do and must not take SQLite's write lock.
    readers: sessionmaker[Session] = getattr(ctx, "readers", None) or ctx.sessions
    with readers() as session:
        if not dispatch.waiting(session) and not session.scalar(
            select(func.count()).select_from(_due(now).limit(1).subquery())
        ):
            return _next_due(session, now)
    sessions: sessionmaker[Session] = ctx.sessions
    with sessions.begin() as session:
        created, more = dispatch.dispatch(session, now)
        session.add_all(OutboxRow(task=TASK_WEBHOOK_DELIVER, args={"args": [d]}) for d in created)
        if more:
            session.add(OutboxRow(task=TASK_WEBHOOKS_DISPATCH, args={"args": []}))
        due = session.scalars(
            _due(now).order_by(WebhookDelivery.next_attempt_at).limit(SWEEP_LIMIT)
        ).all()
        for d in due:
            d.queued_until = now + dispatch.QUEUED_FOR
            session.add(OutboxRow(task=TASK_WEBHOOK_DELIVER, args={"args": [d.id]}))
        return _next_due(session, now)


def _due(now: datetime):
    """Deliveries due, not in flight, and with no task on its way (or one long lost)."""
    return select(WebhookDelivery).where(
        WebhookDelivery.status.in_(WAITING),
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.queued_until.is_(None), WebhookDelivery.queued_until < now),
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
    )


def _next_due(session: Session, now: datetime) -> datetime | None:
    return session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.status.in_(WAITING), WebhookDelivery.next_attempt_at > now
        )
    )
