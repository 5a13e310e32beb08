"""docker-compose.yml, run: every application service started here from the file as compose
resolves it (its command, its environment, its healthcheck, the order its depends_on asks
for), carries the demo import to published articles that the feed service serves.

Only what the images of others provide is swapped: the `redis`, `postgres` and `minio`
hostnames in the services' environment become a Redis of the test's own and a fresh
PostgreSQL database (tests/conftest.py), the ports become free ports on loopback, and
`0.0.0.0` becomes 127.0.0.1 (traffic only to loopback). Until the S3 artifact backend is in
this tree, the services share one local artifacts directory instead of MinIO (the lead
switches that when the backend lands).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import pytest
import requests
import sqlalchemy as sa

from newsflow import children
from shared.db import make_engine
from tests import compose
from tests.conftest import SEED, RedisServer, _postgres_database, free_port

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent  # the virtualenv's newsflow, celery, ...
INFRASTRUCTURE_HOSTS = ("redis", "postgres", "minio")
START_TIMEOUT = 90.0


def _scheduler_exists() -> bool:
    # `newsflow scheduler` is being written beside this; until it is in the tree its service
    # is left out here (not from the file).
    done = subprocess.run([BIN / "newsflow", "scheduler", "--help"], capture_output=True)
    return done.returncode == 0


@dataclass
class Service:
    name: str
    command: list[str]
    env: dict[str, str]
    healthcheck: list[str] | None  # the argv of a CMD check; None for a one-shot
    depends_on: dict[str, str]  # service -> condition
    log: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = children.popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def healthy(self) -> bool:
        assert self.healthcheck is not None
        done = subprocess.run(self.healthcheck, env=self.env, capture_output=True, timeout=30)
        return done.returncode == 0

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class LocalCompose:
    services: dict[str, Service]
    ports: dict[str, int]
    database_url: str
    skipped: list[str] = field(default_factory=list)

    @property
    def ingest(self) -> str:
        return f"http://127.0.0.1:{self.ports['INGEST_PORT']}"

    @property
    def feed(self) -> str:
        return f"http://127.0.0.1:{self.ports['FEED_PORT']}"

    def run(self, service: str, *args: str) -> subprocess.CompletedProcess:
        """A one-off command with a service's environment (`docker compose run --rm SERVICE`)."""
        return subprocess.run(
            list(args), env=self.services[service].env, capture_output=True, text=True, timeout=120
        )

    def start_all(self) -> None:
        for svc in self._in_dependency_order():
            svc.start()
            if svc.healthcheck is None:
                self._wait_completed(svc)
            else:
                self._wait_healthy(svc)

    def _in_dependency_order(self) -> list[Service]:
        done: list[str] = []
        pending = dict(self.services)
        while pending:
            ready = [
                name
                for name, svc in pending.items()
                if all(dep in done or dep not in self.services for dep in svc.depends_on)
            ]
            assert ready, f"depends_on has a cycle among {sorted(pending)}"
            for name in sorted(ready):
                done.append(name)
                del pending[name]
        return [self.services[name] for name in done]

    def _wait_completed(self, svc: Service) -> None:
        try:
            code = svc.proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{svc.name} did not finish:\n{svc.tail()}") from None
        assert code == 0, f"{svc.name} exited with {code}:\n{svc.tail()}"

    def _wait_healthy(self, svc: Service) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not svc.healthy():
            assert svc.proc.poll() is None, (
                f"{svc.name} exited with {svc.proc.returncode}:\n{svc.tail()}"
            )
            assert time.monotonic() < deadline, f"{svc.name} never became healthy:\n{svc.tail()}"
            time.sleep(0.5)

    def stop(self) -> None:
        # Dependents first, as `docker compose down` does.
        for svc in reversed(self._in_dependency_order()):
            if svc.proc is not None:
                children.stop(svc.proc)


def _local_env(
    env: dict,
    ports: dict[str, int],
    database_url: str,
    redis_url: str,
    data_dir: Path,
    s3_endpoint: str,
) -> dict[str, str]:
    local = {k: str(v) for k, v in env.items()}
    local.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "NEWSFLOW_DATA_DIR": str(data_dir),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['FEED_PORT']}",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    local.update({name: str(port) for name, port in ports.items() if name in local})
    local.update({k: "127.0.0.1" for k, v in local.items() if v == "0.0.0.0"})  # loopback only
    if "S3_ENDPOINT_URL" in local:  # MinIO's part is played by the test's S3 server
        local["S3_ENDPOINT_URL"] = s3_endpoint
    return local


def _localize(argv: list[str]) -> list[str]:
    return ["127.0.0.1" if arg == "0.0.0.0" else str(arg) for arg in argv]


def local_compose(
    config: dict, database_url: str, redis_url: str, tmp: Path, s3_endpoint: str
) -> LocalCompose:
    data_dir, logs = tmp / "data", tmp / "logs"
    data_dir.mkdir()
    logs.mkdir()
    ports = {name: free_port() for name in ("INGEST_PORT", "FEED_PORT", "FLOWER_PORT")}
    services, skipped = {}, []
    # A one-shot is what others wait for to have succeeded; it has no health to check.
    one_shots = {
        dep
        for spec in config["services"].values()
        for dep, c in spec.get("depends_on", {}).items()
        if c["condition"] == "service_completed_successfully"
    }
    for name, spec in config["services"].items():
        if not str(spec.get("image", "")).startswith("newsflow:"):
            continue  # infrastructure: the test's own servers stand in
        if spec["command"][:2] == ["newsflow", "scheduler"] and not _scheduler_exists():
            skipped.append(name)
            continue
        test = None
        if name not in one_shots:
            test = spec["healthcheck"]["test"]
            assert test[0] == "CMD", f"{name}: a healthcheck runs a command, not a shell"
            test = _localize(test[1:])
        services[name] = Service(
            name=name,
            command=_localize(spec["command"]),
            env=_local_env(
                spec.get("environment", {}), ports, database_url, redis_url, data_dir, s3_endpoint
            ),
            healthcheck=test,
            depends_on={dep: c["condition"] for dep, c in spec.get("depends_on", {}).items()},
            log=logs / f"{name}.log",
        )
    return LocalCompose(services, ports, database_url, skipped)


@pytest.fixture(scope="module")
def running(tmp_path_factory, s3_server) -> Iterator[LocalCompose]:
    tmp = tmp_path_factory.mktemp("compose")
    compose.filled_env_example(tmp / ".env")
    config = compose.resolved(tmp / ".env")
    # The bucket minio-init would make, on the test's S3 server (moto), so the services run
    # on the S3 backend as compose configures them.
    store = config["services"]["ingest"]["environment"]["ARTIFACT_STORE"]
    bucket = store.removeprefix("s3://").split("/", 1)[0]
    try:
        s3_server.client().create_bucket(Bucket=bucket)
    except s3_server.client().exceptions.BucketAlreadyOwnedByYou:
        pass
    # A Redis of its own: on the session's (tests/conftest.py), these workers would take the
    # session stack's tasks, which name articles of another database.
    redis_srv = RedisServer(free_port(), tmp / "redis")
    redis_srv.start()
    try:
        database = _postgres_database()
        system = local_compose(config, next(database), redis_srv.url, tmp, s3_server.endpoint)
        try:
            system.start_all()
            yield system
        finally:
            system.stop()
            database.close()
    finally:
        redis_srv.stop()


def test_no_service_is_left_on_a_compose_hostname(running):
    for svc in running.services.values():
        for name, value in svc.env.items():
            for host in INFRASTRUCTURE_HOSTS:
                assert f"//{host}:" not in value and f"@{host}:" not in value, (
                    f"{svc.name}: {name}={value} still names the compose host {host!r}"
                )


def test_every_application_service_is_healthy_by_its_own_check(running):
    started = set(running.services) | set(running.skipped)
    assert {"ingest", "relay", "feed", "render-images", "render-feeds", "flower"} <= started
    for svc in running.services.values():
        if svc.healthcheck is not None:
            assert svc.proc.poll() is None, f"{svc.name} exited:\n{svc.tail()}"
            assert svc.healthy(), f"{svc.name} is not healthy:\n{svc.tail()}"


@dataclass
class DemoImport:
    key: str
    files: list[str]


@pytest.fixture(scope="module")
def demo(running) -> DemoImport:
    """The demo articles, imported as an operator would: a partner key made with the ingest
    service's environment (`docker compose run --rm ingest newsflow partner add`), then
    `newsflow import --api` to the ingest service."""
    added = running.run(
        "ingest", "newsflow", "partner", "add", "compose-demo",
        "--scopes", "ingest:write", "--sources", "scimall", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)["key"]
    files = sorted(str(p) for p in SEED.glob("*.txt"))
    imported = running.run(
        "ingest", "newsflow", "import", "--api", running.ingest, "--key", key,
        "--images", str(SEED / "images"), *files,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    return DemoImport(key, files)


def test_the_demo_import_is_published_and_served(running, demo):
    engine = make_engine(running.database_url)
    try:
        deadline = time.monotonic() + 120
        while True:
            with engine.connect() as conn:
                states = conn.execute(sa.text("SELECT status FROM articles")).scalars().all()
            if len(states) == len(demo.files) and set(states) == {"published"}:
                break
            assert time.monotonic() < deadline, f"articles are {states}"
            time.sleep(0.5)
    finally:
        engine.dispose()

    # Published first, then the feed is rebuilt (a task of its own) and announced to the feed
    # service: a moment later, not at once.
    deadline = time.monotonic() + 30
    while True:
        body = requests.get(f"{running.feed}/feeds/all.atom", timeout=10).content
        feed = feedparser.parse(body)
        if len(feed.entries) == len(demo.files) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(feed.entries) == len(demo.files)
    for entry in feed.entries:
        assert requests.get(entry.link, timeout=10).status_code == 200, entry.link


def test_no_secret_reaches_a_service_log(running, demo):
    """The secrets compose hands the services (.env) and the partner key used for the import
    appear in no service's output."""
    env = next(iter(running.services.values())).env
    secrets_ = {demo.key, running.services["flower"].env["FLOWER_BASIC_AUTH"].split(":", 1)[1]}
    secrets_ |= {env[name] for name in ("NEWSFLOW_KEY_SECRET", "AWS_SECRET_ACCESS_KEY")}
    for svc in running.services.values():
        text = svc.log.read_text(errors="replace")
        leaked = [s[:6] + "…" for s in secrets_ if s in text]
        assert not leaked, f"{svc.name}'s log holds {leaked}"


def test_each_worker_pool_consumes_only_its_queues(running):
    from celery import Celery

    client = Celery(broker=running.services["relay"].env["REDIS_URL"], set_as_current=False)
    client.conf.accept_content = ["json"]
    with client.connection_for_write() as conn:
        active = client.control.inspect(timeout=2, connection=conn).active_queues() or {}
    consumed = {node.split("@")[0]: {q["name"] for q in queues} for node, queues in active.items()}
    assert consumed == {"render-images": {"images"}, "render-feeds-render-notify": {
        "feeds", "render", "notify"}}  # fmt: skip


def test_flower_asks_for_its_password(running):
    """Flower can revoke tasks and stop workers: no page without FLOWER_BASIC_AUTH."""
    url = f"http://127.0.0.1:{running.ports['FLOWER_PORT']}/workers"
    user, password = running.services["flower"].env["FLOWER_BASIC_AUTH"].split(":", 1)
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=(user, password), timeout=10).status_code == 200


def test_the_application_services_write_json_lines(running, demo):
    """Operators' collectors read one JSON object a line (LOG_FORMAT defaults to json; the
    servers' own lines too: docs/operations.md, Logs). Flower logs its own way, and the
    one-shot migration talks to a person."""
    for svc in running.services.values():
        if svc.command[:1] != ["newsflow"] or svc.command[1] in ("db",):
            continue
        for number, line in enumerate(svc.log.read_text(errors="replace").splitlines(), 1):
            try:
                parsed = json.loads(line)
            except ValueError:
                pytest.fail(f"{svc.name}.log line {number} is not JSON: {line[:300]!r}")
            assert {"ts", "level", "service", "event"} <= set(parsed), (svc.name, line)


def test_the_artifacts_are_in_the_bucket_not_on_a_local_disk(running, demo, s3_server):
    env = running.services["feed"].env
    bucket, prefix = env["ARTIFACT_STORE"].removeprefix("s3://").split("/", 1)
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/feeds/")
    assert f"{prefix}/feeds/all.atom" in {o["Key"] for o in listed.get("Contents", [])}
    local = Path(env["NEWSFLOW_DATA_DIR"]) / "artifacts" / "feeds"
    assert not local.exists()
