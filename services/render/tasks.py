"""Thin Celery tasks: load by id, call a step in render.services (or render.notify, for
WebSub), hand on by task name.

Transient failures (the database or Redis away, a network hiccup fetching an image) are
retried with exponential backoff; bad input is recorded on the article and never retried.
"""

from __future__ import annotations

import logging
import random

import redis
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from render import coalesce, feedbuild, images, locks, notify, observe, services, webhooks
from render.fetch import FetchTransient
from shared import metrics
from shared.settings import Settings
from shared.tasknames import (
    TASK_IMAGES_AVIF,
    TASK_NOTIFY_FEED,
    TASK_PROCESS_IMAGES,
    TASK_QUEUES,
    TASK_REBUILD_FEED,
    TASK_RENDER_PAGE,
    TASK_WEBHOOK_DELIVER,
    TASK_WEBHOOKS_DISPATCH,
    TASK_WEBSUB_DELIVER,
    TASK_WEBSUB_VERIFY,
    TASK_WITHDRAW,
)

log = logging.getLogger(__name__)

# LeaseLost: a lease lapsed mid-way (the holder stalled, or Redis was away); the work is done
# again. LeaseBusy counts only once a task has waited LEASE_WAITS times (_wait_for_lease).
TRANSIENT = (
    OperationalError,
    redis.ConnectionError,
    redis.TimeoutError,
    locks.LeaseBusy,
    locks.LeaseLost,
    FetchTransient,
)
# The defaults; the worker takes the budget of the article and feed steps from the settings
# (TASK_MAX_RETRIES, TASK_RETRY_BACKOFF_MAX: see step_retry).
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
    "bind": True,
}
# WebSub: the other side's 5xx, timeouts and refused connections are retried too. Backoff
# stays under the broker's visibility timeout; a verification is retried briefly, a delivery
# for about half an hour (2 s, 4 s, ... capped at 10 min, with jitter).
NOTIFY_RETRY = {
    **RETRY,
    "autoretry_for": (*TRANSIENT, notify.NotifyTransient),
    "retry_backoff_max": 600,
}
VERIFY_RETRY = {**NOTIFY_RETRY, "max_retries": 3}
DELIVER_RETRY = {**NOTIFY_RETRY, "max_retries": 10}


class ArticleTask(Task):
    """When a step for an article gives up, the article says so, with the reason."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        if len(args) == 2:
            reason = f"{self.name.rsplit('.', 1)[-1]} failed: {type(exc).__name__}: {exc}"
            services.mark_failed(self.app.newsflow, args[0], args[1], reason)


class DeliveryTask(Task):
    """When a delivery gives up, its subscription says so, with the reason."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        observe.websub_delivery("given_up")
        if args:
            reason = f"delivery given up: {type(exc).__name__}: {exc}"
            notify.record_failure(self.app.newsflow, args[0], reason)


def _send(task: Task, name: str, *args) -> None:
    task.app.send_task(name, args=list(args), queue=TASK_QUEUES[name])


# A task that finds a lock busy goes back to the broker for a moment instead of waiting in its
# worker slot: two rebuilds waiting 120 s for a lock held by a killed process once kept both
# slots of a worker, and every article behind them in the images queue, waiting as long.
LEASE_WAITS = 300  # about a quarter of an hour of waits; then a busy lock counts as a failure
LEASE_WAIT_MAX_S = 3.0


def _lease_wait_countdown(waits: int) -> float:
    # 0.25 s, 0.5 s, 1 s, 2 s, then 3 s, with jitter so waiters do not come back in step.
    return min(0.25 * 2**waits, LEASE_WAIT_MAX_S) * random.uniform(0.75, 1.25)  # noqa: S311


def _wait_for_lease(task: Task, busy: locks.LeaseBusy, args: list, waits: int) -> None:
    """Send this task again with a short countdown. A new message, not ``task.retry``, so
    waiting does not spend the retries meant for real failures (``retries`` is carried)."""
    if waits >= LEASE_WAITS:
        raise busy
    task.app.send_task(
        task.name,
        args=args,
        kwargs={"waits": waits + 1},
        queue=TASK_QUEUES[task.name],
        countdown=_lease_wait_countdown(waits),
        retries=task.request.retries,
    )


def process_images(self: Task, article_id: str, version: int) -> None:
    media = services.process_images(self.app.newsflow, article_id, version)
    if media is None:
        return
    if media:
        _send(self, TASK_RENDER_PAGE, article_id, version)
    else:
        # No picture, so no image work was done: the page follows in this task instead of
        # after another trip through the broker and the render queue, where it waited behind
        # feed rebuilds (docs/benchmarks.md, Freshness).
        render_page(self, article_id, version)


def _rebuild(task: Task, feed_keys: list[str]) -> None:
    r = task.app.newsflow.redis
    for feed_key in feed_keys:
        coalesce.request_rebuild(
            r, lambda key, token: _send(task, TASK_REBUILD_FEED, key, token), feed_key
        )


def _wake_webhooks(task: Task) -> None:
    """A change committed: the webhook dispatcher turns it into deliveries at once. If this
    send fails, the scheduler's sweep (shared.webhooks.deliveries.due_deliveries)
    dispatches it; the step that made the change is done and is not retried for this."""
    try:
        _send(task, TASK_WEBHOOKS_DISPATCH)
    except Exception:
        log.exception("a change was logged but the webhook dispatcher was not woken")


def render_page(self: Task, article_id: str, version: int) -> None:
    published = services.publish_page(self.app.newsflow, article_id, version)
    if published.change is not None:
        _wake_webhooks(self)
    if published.feeds:  # every published article is in "all"; none means a stale version
        observe.published()
    _rebuild(self, published.feeds)
    if published.pictures and images.AVIF_AVAILABLE:
        _send(self, TASK_IMAGES_AVIF, article_id, version)


def add_avif(self: Task, article_id: str, version: int) -> None:
    services.add_avif(self.app.newsflow, article_id, version)


def withdraw(self: Task, article_id: str, version: int, waits: int = 0) -> None:
    feed_keys = services.withdraw(self.app.newsflow, article_id, version)
    # Always: a re-run finds the tombstone logged already and the dispatcher nothing new.
    _wake_webhooks(self)
    # The current feeds first: they are what readers poll; the archive pages after.
    _rebuild(self, feed_keys)
    try:
        services.withdraw_from_archives(self.app.newsflow, article_id, feed_keys)
    except locks.LeaseBusy as busy:
        # Every step above is idempotent (a withdrawn article stays withdrawn, the feed log
        # keeps its feeds), so the whole task simply runs again.
        _wait_for_lease(self, busy, [article_id, version], waits)


def rebuild_feed(self: Task, feed_key: str, token: str | None = None, waits: int = 0) -> int:
    ctx = self.app.newsflow
    try:
        rebuilt = feedbuild.rebuild_feed(ctx, feed_key)
    except locks.LeaseBusy as busy:
        if coalesce.superseded(ctx.redis, feed_key, token):
            log.info("rebuild of %s dropped: a later one is pending", feed_key)
        else:
            _wait_for_lease(self, busy, [feed_key, token], waits)
        return 0
    if rebuilt.changed:
        try:
            if notify.worth_notifying(self.app.newsflow, feed_key):
                _send(self, TASK_NOTIFY_FEED, feed_key, rebuilt.changed)
        except Exception:
            # The feed is written either way; a rerun would find the bytes unchanged and send
            # nothing, so retrying the rebuild would not bring the notification back.
            log.exception("feed %s rebuilt but its WebSub notification was not sent", feed_key)
    return rebuilt.entries


def notify_feed(self: Task, feed_key: str, formats: list[str]) -> int:
    ctx = self.app.newsflow
    return notify.feed_updated(
        ctx, feed_key, formats, lambda sub_id: _send(self, TASK_WEBSUB_DELIVER, sub_id)
    )


def websub_verify(
    self: Task,
    mode: str,
    feed_key: str,
    fmt: str,
    topic: str,
    callback: str,
    lease_seconds: int,
    secret: str | None,
    requested_at: float | None = None,
) -> bool:
    return notify.verify(
        self.app.newsflow,
        mode,
        feed_key,
        fmt,
        topic,
        callback,
        lease_seconds,
        secret,
        requested_at=requested_at,
    )


def websub_deliver(self: Task, subscription_id: str) -> str:
    try:
        outcome = notify.deliver(self.app.newsflow, subscription_id)
    except notify.NotifyTransient:
        observe.websub_delivery("retry")
        raise
    observe.websub_delivery(outcome)
    return outcome


def webhooks_dispatch(self: Task) -> int:
    created, more = webhooks.dispatch(
        self.app.newsflow, lambda name, args: _send(self, name, *args)
    )
    if more:
        _send(self, TASK_WEBHOOKS_DISPATCH)
    return created


# render.webhooks.deliver's answers as the metric's outcomes (shared.metrics).
WEBHOOK_OUTCOMES = {"delivered": "delivered", "retrying": "retry", "failed": "given_up"}


def webhook_deliver(self: Task, delivery_id: str) -> str:
    def later(seconds: float) -> None:
        # Short countdowns only (deliveries.COUNTDOWN_MAX_S): far below the visibility timeout.
        self.app.send_task(
            TASK_WEBHOOK_DELIVER, args=[delivery_id], queue=TASK_QUEUES[TASK_WEBHOOK_DELIVER],
            countdown=seconds,
        )  # fmt: skip

    outcome = webhooks.deliver(self.app.newsflow, delivery_id, later)
    metrics.webhook_delivery(WEBHOOK_OUTCOMES.get(outcome, "skipped"))
    return outcome


def step_retry(settings: Settings) -> dict:
    """RETRY with the configured budget: how long an article waits for a host to recover
    before it is marked failed (an operator then sends it again with ``newsflow retry``)."""
    return {
        **RETRY,
        "max_retries": settings.task_max_retries,
        "retry_backoff_max": settings.task_retry_backoff_max,
    }


def register(app: Celery, settings: Settings) -> None:
    """Explicit registration: what the worker runs is listed here, not found by import."""
    # shared=False: these tasks belong to this app. Celery's default would also register
    # them, with this app's budget, in every app made later in the process (a test run's).
    retry = {**step_retry(settings), "shared": False}
    app.task(name=TASK_PROCESS_IMAGES, base=ArticleTask, **retry)(process_images)
    # Not an ArticleTask: the article is published already; no AVIF is no failure.
    app.task(name=TASK_IMAGES_AVIF, **retry)(add_avif)
    app.task(name=TASK_RENDER_PAGE, base=ArticleTask, **retry)(render_page)
    app.task(name=TASK_WITHDRAW, base=ArticleTask, **retry)(withdraw)
    app.task(name=TASK_REBUILD_FEED, **retry)(rebuild_feed)
    app.task(name=TASK_NOTIFY_FEED, **NOTIFY_RETRY)(notify_feed)
    app.task(name=TASK_WEBSUB_VERIFY, **VERIFY_RETRY)(websub_verify)
    app.task(name=TASK_WEBSUB_DELIVER, base=DeliveryTask, **DELIVER_RETRY)(websub_deliver)
    # The partner's failures are retried from the delivery's row (shared.webhooks), not by
    # Celery; RETRY covers only our own side (the store or Redis away).
    app.task(name=TASK_WEBHOOKS_DISPATCH, **RETRY)(webhooks_dispatch)
    app.task(name=TASK_WEBHOOK_DELIVER, **RETRY)(webhook_deliver)
