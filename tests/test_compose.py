"""docker-compose.yml as compose reads it: accepted by `docker-compose config`, every role
there, every service checked, limited, restarted and ordered, no secret in the file.
(tests/test_compose_up.py runs it.)"""

from __future__ import annotations

import re

import pytest

from newsflow.roles_cli import node_name
from shared.tasknames import ALL_QUEUES, QUEUE_IMAGES
from tests import compose

ROLES = {
    "redis", "postgres", "minio", "minio-init", "migrate", "ingest", "relay", "scheduler",
    "feed", "render-images", "render-feeds", "flower",
}  # fmt: skip
ONE_SHOTS = {"minio-init", "migrate"}


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> dict:
    env = tmp_path_factory.mktemp("compose") / ".env"
    compose.filled_env_example(env)
    return compose.resolved(env)["services"]


def _pools(services: dict) -> dict[str, list[str]]:
    """Worker pools: service -> the queues its `newsflow worker --queues` names."""
    return {
        name: spec["command"][spec["command"].index("--queues") + 1].split(",")
        for name, spec in services.items()
        if spec.get("command", [])[:2] == ["newsflow", "worker"]
    }


def test_compose_config_refuses_a_missing_secret(tmp_path):
    env = tmp_path / ".env"
    compose.filled_env_example(env)
    env.write_text(re.sub(r"(?m)^NEWSFLOW_KEY_SECRET=.*$", "NEWSFLOW_KEY_SECRET=", env.read_text()))
    done = compose.run_config(env)
    assert done.returncode != 0 and "NEWSFLOW_KEY_SECRET" in done.stderr


def test_compose_has_every_role(services):
    assert set(services) == ROLES


def test_compose_every_queue_has_exactly_one_pool(services):
    pools = _pools(services)
    consumed = [queue for queues in pools.values() for queue in queues]
    assert sorted(consumed) == sorted(ALL_QUEUES)


def test_compose_pictures_have_a_pool_of_their_own(services):
    assert _pools(services)["render-images"] == [QUEUE_IMAGES]


@pytest.mark.parametrize("pool", ["render-images", "render-feeds"])
def test_compose_worker_healthcheck_pings_its_own_pool(services, pool):
    spec = services[pool]
    test = spec["healthcheck"]["test"]
    queues = _pools(services)[pool]
    assert test[1:5] == ["newsflow", "health", "worker", "--queues"]
    assert node_name(tuple(test[5].split(","))) == node_name(tuple(queues))


@pytest.mark.parametrize("pool", ["render-images", "render-feeds"])
def test_compose_worker_pools_scale(services, pool):
    """`--scale` starts copies: a fixed container name or host port would collide."""
    assert "container_name" not in services[pool] and "ports" not in services[pool]


def test_compose_redis_keeps_an_append_only_file(services):
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_compose_every_long_running_service_has_a_healthcheck(services):
    for name in ROLES - ONE_SHOTS:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_compose_every_service_has_a_restart_policy(services):
    for name in ROLES:
        want = "no" if name in ONE_SHOTS else "unless-stopped"
        assert services[name]["restart"] == want, name


def test_compose_every_service_has_resource_limits(services):
    for name, spec in services.items():
        limits = spec["deploy"]["resources"]["limits"]
        assert limits["memory"] and limits["cpus"], name


def test_compose_every_dependency_waits_for_health_or_success(services):
    for name, spec in services.items():
        for dep, cond in spec.get("depends_on", {}).items():
            want = "service_completed_successfully" if dep in ONE_SHOTS else "service_healthy"
            assert cond["condition"] == want, f"{name} -> {dep}"


def test_compose_applications_start_after_the_migration(services):
    for name, spec in services.items():
        if str(spec.get("image", "")).startswith("newsflow:") and name != "migrate":
            assert "migrate" in spec["depends_on"], name


def test_compose_file_holds_no_secret():
    """Every secret is a ${NAME:?...} the operator must set: no default, no literal."""
    settings = re.findall(r"(?m)^\s*([A-Z][A-Z0-9_]*): *(.*)$", compose.COMPOSE_FILE.read_text())
    secret = [(k, v) for k, v in settings if re.search("PASSWORD|SECRET|KEY_ID|BASIC_AUTH", k)]
    assert len(secret) >= 6
    for name, value in secret:
        assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{name}: {value}"


@pytest.mark.parametrize("service", ["ingest", "feed", "relay", "scheduler"])
def test_compose_service_checks_its_own_role(services, service):
    """Each checks itself: ingest's check of the feed's port would pass while ingest is down."""
    command = services[service]["command"]
    role = command[2] if command[1] == "serve" else command[1]
    assert services[service]["healthcheck"]["test"][1:] == ["newsflow", "health", role]
