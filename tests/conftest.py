"""Real parts for the tests: a private Redis on a free port, SQLite and PostgreSQL stores, and
the whole stack (worker, relay, ingest, feed) as real processes, as ``newsflow up`` runs it.

PostgreSQL: TEST_POSTGRES_URL (default: the CI server on 127.0.0.1:5432, database ``test``).
A fresh database is created for each run and dropped after. Where it is unreachable the
PostgreSQL half is skipped with the reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from newsflow import localkeys, redis_server
from newsflow.launcher import Stack
from shared import migrate
from shared.db import make_engine, normalize_url
from shared.partners import SCOPES
from shared.settings import Settings

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).parent / "fixtures"
SEED = Path(__file__).parents[1] / "newsflow" / "demo" / "seed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    port: int
    data_dir: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc, _ = redis_server.start(self.data_dir, port=self.port, persist=False)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_srv(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


# Credentials for the test's S3 server; boto3 reads them from the environment (as in
# production), so they are set for the session and given to the stack's children.
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "newsflow-test",
    "AWS_SECRET_ACCESS_KEY": "newsflow-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class S3Server:
    """moto's S3 in server mode: a real HTTP server on loopback, spoken to by boto3."""

    endpoint: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def new_bucket(self) -> str:
        name = f"newsflow-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, prefix: str = "artifacts") -> dict[str, str]:
        """What a process needs to use this bucket as its artifact store."""
        return {
            "ARTIFACT_STORE": f"s3://{bucket}/{prefix}",
            "S3_ENDPOINT_URL": self.endpoint,
            **S3_CREDENTIALS,
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {name: os.environ.get(name) for name in S3_CREDENTIALS}
    os.environ.update(S3_CREDENTIALS)
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _postgres_database() -> Iterator[str]:
    admin = make_engine(PG_URL)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI requires it)")
        pytest.skip(message)
    name = f"newsflow_test_{uuid.uuid4().hex[:12]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_store(kind: str, directory: Path) -> Iterator[str]:
    """A new store at the newest schema: a SQLite file in ``directory``, or a PostgreSQL
    database of its own (dropped on the way out)."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'newsflow.db'}"
        migrate.upgrade(url)
        yield url
        return
    gen = _postgres_database()
    url = next(gen)
    migrate.upgrade(url)
    yield url
    gen.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """Every test that uses the store runs once on SQLite and once on PostgreSQL."""
    with migrated_store(request.param, tmp_path_factory.mktemp("sqlite")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url):
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


# Every API key the suite issued: none of them, nor its hash, may appear in a log or in the
# audit table (checked when the stack stops).
ISSUED_KEYS: list[str] = []

# Every source the suite posts under: the suite's key is bound to these (a key writes only
# the sources it is bound to).
TEST_SOURCES = ["tests", "scimall", "bench", "example", "crash-test", "prop-hostile", "prop-normal"]


@dataclass
class RunningStack:
    stack: Stack
    settings: Settings
    redis: RedisServer
    engine: sa.Engine
    key: str = ""  # the suite's partner key: every scope, TEST_SOURCES

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def writes(self):
        """A session for writing to the store (on SQLite it takes the write lock at BEGIN, as
        the services' writers do, so it waits for its turn instead of failing as locked)."""
        from shared.db import make_sessionmaker

        if not hasattr(self, "_writer"):
            self._writer = make_sessionmaker(make_engine(self.settings.database_url, True))
        return self._writer.begin()

    def new_partner(self, scopes: list[str], sources: list[str] = (), **kw) -> str:
        """A partner of its own with one key; returns the key (remembered for the leak check)."""
        from shared import keysecret, partners

        with self.writes() as session:
            new = partners.create_partner(
                session, f"t-{uuid.uuid4().hex[:12]}", scopes,
                keysecret.secret_bytes(self.settings), sources=list(sources), **kw,
            )  # fmt: skip
        ISSUED_KEYS.append(new.key)
        return new.key

    @property
    def ingest(self) -> str:
        return self.stack.ingest_url

    @property
    def feed(self) -> str:
        return self.stack.feed_url

    def post(self, doc: dict) -> requests.Response:
        return requests.post(f"{self.ingest}/v1/articles", json=doc, headers=self.auth, timeout=30)

    def status(self, article_id: str) -> dict:
        return requests.get(
            f"{self.ingest}/v1/articles/{article_id}", headers=self.auth, timeout=10
        ).json()

    def wait_status(
        self, article_id: str, want: str, version: int | None = None, timeout: float = 60
    ) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            info = self.status(article_id)
            if info["status"] == want and (version is None or info["publishedVersion"] == version):
                return info
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"article {article_id} is {info['status']}, not {want}: {info}"
                )
            time.sleep(0.1)

    def wait_feed(self, path: str, predicate, timeout: float = 60) -> bytes:
        """Poll a served feed until ``predicate(bytes)`` holds (rebuilds are asynchronous)."""
        deadline = time.monotonic() + timeout
        last = b""
        while time.monotonic() < deadline:
            resp = requests.get(f"{self.feed}{path}", timeout=10)
            if resp.status_code == 200:
                last = resp.content
                if predicate(last):
                    return last
            time.sleep(0.1)
        raise AssertionError(f"{path} never satisfied the condition; last body:\n{last[:2000]!r}")

    def wait_idle(self, timeout: float = 60) -> None:
        """No outbox row unsent, no task queued, no article mid-pipeline, no rebuild running."""
        from render.app import create_app  # the client side of the worker's Celery app

        deadline = time.monotonic() + timeout
        celery = create_app(self.settings)
        r = self.stack_redis()
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                unsent = conn.execute(
                    sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                ).scalar()
                busy = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM articles WHERE status IN ('queued', 'processing')"
                    )
                ).scalar()
            queued = sum(r.llen(q) for q in ("images", "render", "feeds", "notify"))
            if unsent == 0 and busy == 0 and queued == 0:
                with celery.connection_for_write() as conn:
                    active = celery.control.inspect(timeout=1, connection=conn).active() or {}
                if not any(active.values()):
                    return
            time.sleep(0.2)
        raise AssertionError("the system did not become idle")

    def stack_redis(self):
        from shared.redisurl import client

        return client(self.settings.redis_url)

    def reset(self) -> None:
        """An empty store and artifact dir, for tests that count feed entries."""
        self.wait_idle()
        with self.engine.begin() as conn:
            for table in ("feed_entries", "feed_log", "change_places", "changes", "outbox",
                          "media_sources", "articles"):  # fmt: skip
                conn.execute(sa.text(f"DELETE FROM {table}"))
        artifacts = self.settings.artifacts_dir
        if artifacts.exists():
            subprocess.run(["rm", "-rf", str(artifacts)], check=True)


def stack_env(database_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    """The test stack's settings, on free ports."""
    return {
        "NEWSFLOW_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FEED_PORT": str(free_port()),
        "INGEST_PORT": str(free_port()),
        "RELAY_INTERVAL": "0.2",
        "ARCHIVE_PAGE_SIZE": "3",  # small, so a few articles fill RFC 5005 archive pages
        "FETCH_ALLOW_HOSTS": "127.0.0.1,localhost",
        # A picture host answering 5xx fails its article within seconds, not the quarter of
        # an hour of the default budget (tests/newsflow/test_admin.py retries one).
        "TASK_MAX_RETRIES": "4",
        "TASK_RETRY_BACKOFF_MAX": "2",
        # Webhook retries after ~0.2 s, 0.8 s, then 1 s each: a retry schedule in seconds,
        # through the settings (not by mocking time).
        "WEBHOOK_RETRY_BASE": "0.2",
        "WEBHOOK_RETRY_MAX": "1",
        # A port of its own: other stacks may run on this machine at the same time.
        "WORKER_METRICS_PORT": str(free_port()),
        "LOG_FORMAT": "json",  # the log tests read the lines (tests/e2e/test_logs.py)
    }


@contextmanager
def running_stack(
    env: dict[str, str], redis_srv: RedisServer, engine: sa.Engine
) -> Iterator[RunningStack]:
    """The whole system as real processes, supervised, stopped (and checked for leaked keys)
    on the way out."""
    settings = Settings.from_env(env)
    data_dir = settings.data_dir
    redis_srv.start() if redis_srv.proc is None or redis_srv.proc.poll() is not None else None
    stack = Stack(settings, concurrency=2)
    try:
        stack.start()
    except Exception as exc:
        stack.stop()
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in (data_dir / "logs").glob("*.log")
        )
        raise RuntimeError(f"the stack did not start: {exc}\n{logs}") from None
    key = localkeys.issue(stack.settings, "tests", list(SCOPES), TEST_SOURCES, localkeys.UNLIMITED)
    ISSUED_KEYS.append(key)
    running = RunningStack(stack, stack.settings, redis_srv, engine, key)
    # Supervised as `newsflow up` supervises it: a child that exits is restarted. The Celery
    # worker exits on purpose now and then ("Unrecoverable error" when Redis goes away while
    # it restores unacknowledged messages, a kombu race), and tests stop Redis on purpose.
    stop_supervising = threading.Event()

    def supervise() -> None:
        while not stop_supervising.wait(0.25):
            stack.supervise()

    watcher = threading.Thread(target=supervise, name="supervise-stack", daemon=True)
    watcher.start()
    try:
        yield running
    finally:
        stop_supervising.set()
        watcher.join(timeout=5)
        stack.stop()
    assert_no_key_leaked(data_dir / "logs", engine, stack.settings)


@pytest.fixture(scope="session")
def stack(database_url, redis_srv, engine, tmp_path_factory) -> Iterator[RunningStack]:
    """The whole system as real processes: Celery worker, outbox relay, ingest and feed
    under gunicorn, on the private Redis and the session's database."""
    env = stack_env(database_url, redis_srv.url, tmp_path_factory.mktemp("data"))
    with running_stack(env, redis_srv, engine) as running:
        yield running


def assert_no_key_leaked(logs: Path, engine: sa.Engine, settings: Settings) -> None:
    """No key the suite issued, no hash of one and not the server secret, in any log line or
    in the audit table's text."""
    from shared import keysecret
    from shared.partners import server_hash

    secret = keysecret.secret_bytes(settings)
    needles = {settings.key_secret}
    for key in ISSUED_KEYS:
        needles |= {key, key[len("nf_live_") + 17 :], server_hash(secret, key)}
    with engine.connect() as conn:
        audit = " ".join(
            str(v) for row in conn.execute(sa.text("SELECT * FROM audit_log")) for v in row
        )
    for path in logs.glob("*.log"):
        text = path.read_text(errors="replace")
        leaked = [n[:12] + "…" for n in needles if n in text]
        assert not leaked, f"{path.name} holds key material: {leaked}"
    leaked = [n[:12] + "…" for n in needles if n in audit]
    assert not leaked, f"the audit table holds key material: {leaked}"
