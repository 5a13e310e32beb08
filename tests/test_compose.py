"""docker-compose.yml runs the same roles as `newsflow up`, and every queue has a consumer."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from newsflow.launcher import Stack
from shared.settings import Settings
from shared.tasknames import ALL_QUEUES

COMPOSE = yaml.safe_load((Path(__file__).parents[1] / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_has_every_role():
    assert {"redis", "postgres", "migrate", "ingest", "relay", "render", "feed"} <= set(SERVICES)


def test_compose_render_worker_consumes_every_queue():
    command = SERVICES["render"]["command"]
    queues = command[command.index("-Q") + 1].split(",")
    assert set(queues) == set(ALL_QUEUES)


def test_compose_redis_keeps_an_append_only_file():
    assert "--appendonly" in SERVICES["redis"]["command"]


@pytest.mark.parametrize("role", ["ingest", "feed"])
def test_compose_web_entry_points_are_the_launchers(role):
    launcher = Stack(Settings.from_env({"NEWSFLOW_DATA_DIR": "/tmp/x"})).commands()[role]
    assert SERVICES[role]["command"][-1] == launcher[-1]
    module, _, attr = launcher[-1].partition(":")
    assert importlib.util.find_spec(module) is not None and attr == "app"


def test_compose_secrets_come_from_the_environment():
    env = SERVICES["postgres"]["environment"]
    assert env["POSTGRES_PASSWORD"].startswith("${")
