"""Thin Celery tasks: load by id, call a step in render.services, hand on by task name.

Transient failures (the database or Redis away, a network hiccup fetching an image) are
retried with exponential backoff; bad input is recorded on the article and never retried.
"""

from __future__ import annotations

import redis
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from render import coalesce, services
from render.fetch import FetchTransient
from shared.tasknames import (
    TASK_PROCESS_IMAGES,
    TASK_QUEUES,
    TASK_REBUILD_FEED,
    TASK_RENDER_PAGE,
    TASK_WITHDRAW,
)

TRANSIENT = (OperationalError, redis.ConnectionError, redis.TimeoutError, FetchTransient)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
    "bind": True,
}


class ArticleTask(Task):
    """When a step for an article gives up, the article says so, with the reason."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        if len(args) == 2:
            reason = f"{self.name.rsplit('.', 1)[-1]} failed: {type(exc).__name__}: {exc}"
            services.mark_failed(self.app.newsflow, args[0], args[1], reason)


def _send(task: Task, name: str, *args) -> None:
    task.app.send_task(name, args=list(args), queue=TASK_QUEUES[name])


def process_images(self: Task, article_id: str, version: int) -> None:
    if services.process_images(self.app.newsflow, article_id, version):
        _send(self, TASK_RENDER_PAGE, article_id, version)


def _rebuild(task: Task, feed_keys: list[str]) -> None:
    r = task.app.newsflow.redis
    for feed_key in feed_keys:
        coalesce.request_rebuild(r, lambda key: _send(task, TASK_REBUILD_FEED, key), feed_key)


def render_page(self: Task, article_id: str, version: int) -> None:
    _rebuild(self, services.publish_page(self.app.newsflow, article_id, version))


def withdraw(self: Task, article_id: str, version: int) -> None:
    _rebuild(self, services.withdraw(self.app.newsflow, article_id, version))


def rebuild_feed(self: Task, feed_key: str) -> int:
    return services.rebuild_feed(self.app.newsflow, feed_key)


def register(app: Celery) -> None:
    """Explicit registration: what the worker runs is listed here, not found by import."""
    app.task(name=TASK_PROCESS_IMAGES, base=ArticleTask, **RETRY)(process_images)
    app.task(name=TASK_RENDER_PAGE, base=ArticleTask, **RETRY)(render_page)
    app.task(name=TASK_WITHDRAW, base=ArticleTask, **RETRY)(withdraw)
    app.task(name=TASK_REBUILD_FEED, **RETRY)(rebuild_feed)
