"""``create_app()`` for the worker: a Celery app with JSON only, late acks, and our tasks."""

from __future__ import annotations

from celery import Celery

from render import tasks
from render.context import RenderContext
from shared.settings import Settings
from shared.tasknames import ALL_QUEUES, TASK_QUEUES

VISIBILITY_TIMEOUT_S = 900


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    if settings.task_retry_backoff_max + 120 > VISIBILITY_TIMEOUT_S:
        # A retry waits in Redis, unacknowledged, for its countdown: past the visibility
        # timeout Redis would hand it to a second worker and the step would run twice.
        raise SystemExit(
            f"newsflow: TASK_RETRY_BACKOFF_MAX={settings.task_retry_backoff_max} is too long: "
            f"at most {VISIBILITY_TIMEOUT_S - 120} s (the broker's visibility timeout is "
            f"{VISIBILITY_TIMEOUT_S} s)"
        )
    app = Celery("newsflow-render", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        # JSON on the wire, nothing else accepted: a pickle payload is refused, not run.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # A task is acknowledged after it ran, and given back if the worker dies mid-way,
        # so a crash never loses an article; tasks are idempotent so a redelivery is harmless.
        # A killed pool process (the OOM killer) costs seconds: the master requeues its task
        # at once (reject on worker lost) and starts a new process; the locks it held are
        # leases that lapse within render.locks.LEASE_S.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message reserved per process: the rest wait in Redis, where any worker gets them.
        worker_prefetch_multiplier=1,
        task_queues=None,
        task_default_queue=ALL_QUEUES[0],
        task_routes={name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
        broker_connection_retry_on_startup=True,
        # What a killed *master* costs: Redis hands its unacked messages (running, reserved,
        # or waiting for a countdown) to another worker after this. It must exceed the
        # longest countdown (a retry's backoff, capped at 600 s in render.tasks) plus a run,
        # or a task waiting for its countdown would be delivered twice.
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        worker_hijack_root_logger=False,
    )
    app.newsflow = RenderContext.build(settings)  # type: ignore[attr-defined]
    tasks.register(app, settings)
    return app
