"""The worker's Celery app takes the retry budget of the pipeline steps from the settings."""

from __future__ import annotations

import pytest

from render.app import VISIBILITY_TIMEOUT_S, create_app
from shared.settings import Settings
from shared.tasknames import TASK_PROCESS_IMAGES, TASK_REBUILD_FEED


def settings(tmp_path, **env) -> Settings:
    return Settings.from_env({"NEWSFLOW_DATA_DIR": str(tmp_path), **env})


def test_the_steps_take_the_configured_retry_budget(tmp_path):
    app = create_app(settings(tmp_path, TASK_MAX_RETRIES="3", TASK_RETRY_BACKOFF_MAX="5"))
    for name in (TASK_PROCESS_IMAGES, TASK_REBUILD_FEED):
        assert app.tasks[name].max_retries == 3
        assert app.tasks[name].retry_backoff_max == 5


def test_the_default_budget_is_eight_retries_up_to_five_minutes_apart(tmp_path):
    task = create_app(settings(tmp_path)).tasks[TASK_PROCESS_IMAGES]
    assert (task.max_retries, task.retry_backoff_max) == (8, 300)


def test_a_backoff_past_the_visibility_timeout_is_refused(tmp_path):
    too_long = str(VISIBILITY_TIMEOUT_S)
    with pytest.raises(SystemExit, match=f"TASK_RETRY_BACKOFF_MAX={too_long} is too long"):
        create_app(settings(tmp_path, TASK_RETRY_BACKOFF_MAX=too_long))
